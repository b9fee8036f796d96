"""The engine: the network's topology, the step shared by both views, the vectorised population."""

"""Route handlers, one module per area. Each handler makes one service call."""

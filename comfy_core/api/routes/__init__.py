"""Route modules, one per resource; each exposes `routes: web.RouteTableDef`."""

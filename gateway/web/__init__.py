"""The HTTP surface: app factory, routes, schemas, auth, middleware, problem rendering."""

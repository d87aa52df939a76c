"""Licensing: the open quote of a cleared request, its signed clearance token and the request
digest that binds the two to one request."""

"""The free animatic renderer behind the `preview` provider."""

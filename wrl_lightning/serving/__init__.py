"""The trained RM as an HTTP service: request formats (``apis``) and the batched LitServe server (``server``)."""

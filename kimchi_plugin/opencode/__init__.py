"""The OpenCode adapter: payload models, OpenCode's vocabulary, and handlers that translate hook calls to Brain
calls (the method table is in `routes`). Empty on purpose: the leaf `vocabulary` is read by every layer."""

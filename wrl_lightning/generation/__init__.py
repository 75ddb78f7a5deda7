"""Response generators behind one interface: edit (offline, embedded), hf (transformers), http (OpenAI API)."""

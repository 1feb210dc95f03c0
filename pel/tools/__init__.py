"""Source tools that rewrite `.pel` files: `pel fix` (mechanical repairs) and `pel fmt` (canonical layout)."""

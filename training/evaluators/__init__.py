"""What training runs measure a model with: one evaluator (or figure helper) per file."""

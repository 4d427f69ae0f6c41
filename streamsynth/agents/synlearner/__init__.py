"""SynLearner: an LLM that learns to synthesize across the stream (DAI -> LoRA fine-tuning -> GRPO)."""

"""A tiny randomly initialised Llama and a byte-level BPE tokenizer trained on a few sentences (CPU, no network).

Shared by the generation tests and the SynLearner tests; the ``tiny_model_dir`` fixture lives in ``conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

CORPUS = [
    "Write a one-sentence movie review that is positive.",
    "The film was wonderful, moving and funny.",
    "The plot was boring and the acting was bad.",
    "What is the capital of France? Paris is the capital of France.",
    "A short story about a cat who learns to sing.",
    "Classify the sentiment of this tweet: I love rainy days!",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, pre_tokenizers, trainers
    from tokenizers import models as tk_models
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(tk_models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _tiny_llama(tokenizer, seed: int = 0, max_positions: int = 256):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        rms_norm_eps=1e-5,
        initializer_range=0.3,  # peaked logits: greedy decoding has no near-ties
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()




def save_tiny_model(folder: Path, seed: int = 0, max_positions: int = 256) -> Path:
    """Write the tiny model and tokenizer as a Hugging Face folder (task prompts need ``max_positions`` ~2048:
    the 320-token vocabulary spells most words byte by byte)."""
    tokenizer = _tiny_tokenizer()
    _tiny_llama(tokenizer, seed, max_positions).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def warm_start(folder: Path, pairs: list[tuple[list[int], list[int]]], *, steps: int = 120, lr: float = 3e-3,
               batch_size: int = 16, seed: int = 0) -> Path:
    """Fine-tune the whole tiny model in ``folder`` on ``(prompt_ids, completion_ids)`` pairs (loss on the
    completion only) and save it back: a random model made to write sentences, so that a learner has something
    to improve. A few seconds per 25 steps on one CPU thread."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder)
    pad = model.config.pad_token_id
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        batch = [pairs[int(j)] for j in torch.randint(len(pairs), (batch_size,), generator=gen)]
        width = max(len(p) + len(c) for p, c in batch)
        ids = torch.full((batch_size, width), pad)
        labels = torch.full((batch_size, width), -100)
        mask = torch.zeros((batch_size, width), dtype=torch.long)
        for k, (p, c) in enumerate(batch):
            n = len(p) + len(c)
            ids[k, :n] = torch.tensor([*p, *c])
            labels[k, len(p):n] = torch.tensor(c)
            mask[k, :n] = 1
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval().save_pretrained(folder)
    return folder


def _permute_for_gguf(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order (``convert_hf_to_gguf.py``), which the converter must undo."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def write_tiny_gguf(path: Path, max_positions: int = 256) -> tuple[torch.nn.Module, object]:
    """Write the tiny Llama and its tokenizer as a float32 GGUF, the way llama.cpp lays it out."""
    import gguf

    tokenizer = _tiny_tokenizer()
    model = _tiny_llama(tokenizer, seed=1, max_positions=max_positions)
    cfg = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    import json

    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([token for token, _ in vocab])
    writer.add_token_types([3 if token.startswith("<") and token.endswith(">") else 1 for token, _ in vocab])
    writer.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_chat_template(CHAT_TEMPLATE)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied
        base, suffix = name.rsplit(".", 1)
        array = tensor.numpy().astype(np.float32)
        if name.endswith("q_proj.weight"):
            array = _permute_for_gguf(array, cfg.num_attention_heads)
        elif name.endswith("k_proj.weight"):
            array = _permute_for_gguf(array, cfg.num_key_value_heads)
        writer.add_tensor(f"{names.get_name(base)}.{suffix}", array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return model, tokenizer

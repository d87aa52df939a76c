"""A tiny CLIP vision model with random weights, written as an operator's model directory is
(``save_pretrained``: config, safetensors weights, the image processor), so the IP image
check's CLIP path runs here with nothing downloaded. Its embeddings mean nothing; tests take
their bounds from cosines measured with it."""

from pathlib import Path

SEED = 20261125


def build_tiny_clip(path: Path, *, seed: int = SEED) -> Path:
    import torch
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=224,
        patch_size=32,
        projection_dim=16,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPVisionModelWithProjection(config)
    model.save_pretrained(path, safe_serialization=True)
    CLIPImageProcessorPil(
        size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}
    ).save_pretrained(path)
    return path

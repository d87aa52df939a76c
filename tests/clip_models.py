"""CLIP vision models with random weights, written as an operator's model directory is
(``save_pretrained``: config, safetensors weights, the image processor), so the IP image
check's CLIP path runs here with nothing downloaded. Their embeddings mean nothing: tests
take their bounds from cosines measured with the tiny one, and the bench times the ViT-B/32
shape."""

from pathlib import Path

SEED = 20261125

#: Half a megabyte of weights: loads and embeds in milliseconds.
TINY = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "patch_size": 32,
    "projection_dim": 16,
}

#: The shape of OpenAI's ViT-B/32 vision tower (transformers' defaults, 512-wide projection).
VIT_B_32 = {"patch_size": 32, "projection_dim": 512}


def build_random_clip(path: Path, *, shape: dict = TINY, seed: int = SEED) -> Path:
    import torch
    from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModelWithProjection

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIPVisionModelWithProjection(CLIPVisionConfig(image_size=224, **shape))
    model.save_pretrained(path, safe_serialization=True)
    CLIPImageProcessorPil(
        size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}
    ).save_pretrained(path)
    return path

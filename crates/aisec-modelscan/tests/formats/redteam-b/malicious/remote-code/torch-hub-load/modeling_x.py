import torch

_m = torch.hub.load("aisec-fixture/hub-model", "model", trust_repo=True)

import pytest
import torch

from wikiart_core.device import DeviceError, pick_device


def test_auto_falls_back_and_named_devices_must_exist(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type in ("cpu", "mps")
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceError, match=r"device='cuda'.*no CUDA GPU.*device='auto'"):
        pick_device("cuda")

"""Fixtures shared by several test modules."""
import pytest
import torch


@pytest.fixture(scope="module")
def single_torch_thread():
    """One torch thread for a module: on two shared cores it is faster than two, and
    CPU results stay deterministic. Use with ``pytestmark = pytest.mark.usefixtures(...)``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session", autouse=True)
def single_library_thread():
    """One BLAS and OpenMP thread for scikit-learn and numpy in every test: on two shared
    cores a busy neighbour makes their spinning threads wait on each other (a 30-point
    t-SNE took 10 s instead of 0.05 s). ``single_torch_thread`` does the same for torch."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def tiny_splits(tmp_path_factory):
    """(train, test) WikiArtDatasets of a tiny synthetic set: every style, 16 px."""
    from wikiart_core import synth
    from wikiart_core.data import WikiArtDataset

    root = tmp_path_factory.mktemp("tiny_synth")
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    train = WikiArtDataset(root / "train", image_size=16, progress=False)
    test = WikiArtDataset(root / "test", image_size=16, classes=train.classes, progress=False)
    return train, test

"""Part 2's clustering (parts.part2_autoencoder): extraction, clustering scores on cases
with known answers, the resize baseline (evaluate), the part-2 figures, the cluster
explorer and the `cluster` command."""
import json
import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from wikiart_core import checkpoint, cli, evaluate, models, plots, synth
from wikiart_core.engine import EpochRecord
from wikiart_core.data import WikiArtDataset
from wikiart_core.parts import part2_autoencoder



@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def tiny_test(tiny_root):
    train_set = WikiArtDataset(tiny_root / "train", image_size=16, progress=False)
    return WikiArtDataset(tiny_root / "test", image_size=16, classes=train_set.classes, progress=False)


def blobs(n_per_blob=20, n_blobs=4, dims=6, seed=0):
    """Well separated Gaussian blobs: the clustering answer is known."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_blobs, dims)) * 50
    features = np.concatenate([centre + rng.normal(size=(n_per_blob, dims)) for centre in centres])
    labels = np.repeat(np.arange(n_blobs), n_per_blob)
    return features.astype(np.float32), labels


# --------------------------------------------------------------------------- scores


def test_separated_blobs_score_perfectly():
    features, labels = blobs()
    result = part2_autoencoder.cluster_metrics(features, labels, seed=0)
    assert result["k"] == 4
    for name in part2_autoencoder.METRIC_NAMES:
        assert result[name] == pytest.approx(1.0), name
    assert result["assignments"].shape == labels.shape
    assert result["pca_dims"] == 6


def test_scores_for_a_known_imperfect_case_and_random_labels():
    # styles [0,0,1,1] in clusters [0,0,0,1]: cluster 0 holds 2 of style 0 + 1 of style 1.
    assert part2_autoencoder.purity([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(0.75)
    assert part2_autoencoder.purity([0, 1, 2], [5, 5, 5]) == pytest.approx(1 / 3)
    features, _ = blobs(n_per_blob=30, n_blobs=3)
    shuffled = np.random.default_rng(1).integers(0, 3, len(features))
    result = part2_autoencoder.cluster_metrics(features, shuffled, k=3, seed=0)
    assert result["nmi"] < 0.2 and abs(result["ari"]) < 0.1


def test_cluster_metrics_checks_its_inputs_and_caps_pca():
    features, labels = blobs(n_per_blob=3, n_blobs=2, dims=80)
    assert part2_autoencoder.cluster_metrics(features, labels, k=2)["pca_dims"] == 5  # N - 1
    with pytest.raises(ValueError, match="labels"):
        part2_autoencoder.cluster_metrics(features, labels[:-1])
    with pytest.raises(ValueError, match="k must be"):
        part2_autoencoder.cluster_metrics(features, labels, k=0)


def test_style_cohesion_names_the_styles_that_cluster():
    labels = np.array([0] * 6 + [1] * 6 + [2] * 6 + [3] * 2)
    # style 0 alone in cluster 0; styles 1 and 2 share cluster 1; style 3 too small to judge.
    assignments = np.array([0] * 6 + [1] * 6 + [1] * 5 + [2] + [2, 2])
    rows = part2_autoencoder.style_cohesion(labels, assignments, ["A", "B", "C", "D"], min_images=5)
    by_style = {row["style"]: row for row in rows}
    assert set(by_style) == {"A", "B", "C"}
    # sorted by cohesion: A (1 x 1), B (1 x 6/11), C (5/6 x 5/11)
    assert [row["style"] for row in rows] == ["A", "B", "C"]
    assert by_style["A"]["clusters"] and by_style["A"]["cohesion"] == 1.0 and by_style["A"]["cluster"] == 0
    # B: all 6 in cluster 1, which is 6/11 B: most of B sits in a cluster that is mostly B.
    assert by_style["B"]["share"] == 1.0 and by_style["B"]["cluster_purity"] == pytest.approx(6 / 11)
    assert by_style["B"]["clusters"] is True
    # C: 5 of 6 in cluster 1 too, but that cluster is only 5/11 C: C does not cluster.
    assert by_style["C"]["cluster"] == 1 and by_style["C"]["share"] == pytest.approx(5 / 6)
    assert by_style["C"]["cluster_purity"] == pytest.approx(5 / 11)
    assert by_style["C"]["cohesion"] == pytest.approx(5 / 6 * 5 / 11)
    assert by_style["C"]["clusters"] is False
    # A stricter threshold turns B down too; a looser one lets C through.
    stricter = part2_autoencoder.style_cohesion(labels, assignments, "ABCD", threshold=0.6)
    assert [row["clusters"] for row in stricter] == [True, False, False]
    looser = part2_autoencoder.style_cohesion(labels, assignments, "ABCD", threshold=0.45)
    assert all(row["clusters"] for row in looser)
    assert "A" in part2_autoencoder.cohesion_table(rows)


def test_embed_2d_shapes_and_determinism():
    features, labels = blobs(n_per_blob=10, n_blobs=3)
    pca = part2_autoencoder.embed_2d(features, "pca")
    assert pca.shape == (30, 2)
    tsne = part2_autoencoder.embed_2d(features, "tsne", seed=0, max_iter=250)
    assert tsne.shape == (30, 2)
    np.testing.assert_allclose(tsne, part2_autoencoder.embed_2d(features, "tsne", seed=0, max_iter=250))
    with pytest.raises(ValueError, match="method"):
        part2_autoencoder.embed_2d(features, "umap")


def test_subsample_and_fixed_examples(tiny_test):
    assert list(part2_autoencoder.subsample(5, None)) == [0, 1, 2, 3, 4]
    picked = part2_autoencoder.subsample(100, 10, seed=3)
    assert len(picked) == 10 and np.all(np.diff(picked) > 0)
    np.testing.assert_array_equal(picked, part2_autoencoder.subsample(100, 10, seed=3))
    examples = part2_autoencoder.fixed_examples(tiny_test, per_style=1)
    labels = np.asarray(tiny_test.targets)[examples]
    assert list(labels) == sorted(set(tiny_test.targets))  # one per style present, in label order


# --------------------------------------------------------------------------- extraction


def test_extract_is_deterministic_and_saves(tiny_test, tmp_path):
    torch.manual_seed(0)
    model = models.ConvAutoencoder(image_size=16, base_channels=4, depth=2, latent_channels=2)
    model.train()
    features, labels = part2_autoencoder.extract(model, tiny_test, batch_size=7, save_to=tmp_path / "f" / "ae.npz")
    assert features.shape == (len(tiny_test), 2 * 4 * 4) and features.dtype == np.float32
    assert model.training  # mode restored
    again, labels_again = part2_autoencoder.extract(model, tiny_test, batch_size=7)
    np.testing.assert_array_equal(features, again)
    np.testing.assert_array_equal(labels, labels_again)
    np.testing.assert_array_equal(labels, tiny_test.targets)
    # Batch size does not change the answer (eval mode: batch norm uses its running stats).
    np.testing.assert_allclose(features, part2_autoencoder.extract(model, tiny_test, batch_size=256)[0], atol=1e-5)
    stored, stored_labels, classes = part2_autoencoder.load_features(tmp_path / "f" / "ae.npz")
    np.testing.assert_array_equal(stored, features)
    np.testing.assert_array_equal(stored_labels, labels)
    assert classes == tiny_test.classes


def test_extract_pixels_and_embeddings(tiny_test):
    pixels, _ = part2_autoencoder.extract(part2_autoencoder.pixel_features(4), tiny_test)
    assert pixels.shape == (len(tiny_test), 3 * 4 * 4)
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0
    style_cnn = models.StyleCNN(n_classes=27, width=4, depth=2)
    embeddings, _ = part2_autoencoder.extract(style_cnn, tiny_test)
    assert embeddings.shape == (len(tiny_test), style_cnn.embedding_dim)


# --------------------------------------------------------------------------- the resize baseline


def test_resize_baseline_holds_as_many_numbers_as_the_latent():
    assert evaluate.resize_baseline_side(64, 16) == 16
    assert evaluate.resize_baseline_side(64, 48) == 9
    baseline = evaluate.ResizeBaseline(32, 16)
    x = torch.rand(2, 3, 32, 32)
    assert baseline.encode(x).shape == (2, 3, 8, 8)
    assert baseline(x).shape == x.shape
    assert baseline.compression_ratio == 16
    # A flat image survives the round trip exactly.
    flat = torch.full((1, 3, 32, 32), 0.3)
    torch.testing.assert_close(baseline(flat), flat)


def test_reconstruction_examples_are_one_per_style_beside_the_baseline(tiny_test):
    torch.manual_seed(0)
    model = models.ConvAutoencoder(image_size=16, base_channels=4, depth=2, latent_channels=3)
    examples = part2_autoencoder.reconstruction_examples(model, tiny_test)
    n = len(set(tiny_test.targets))
    assert examples["images"].shape == (n, 3, 16, 16) and examples["images"].dtype == np.uint8
    assert list(examples["labels"]) == sorted(set(tiny_test.targets))
    for name in ("autoencoder", "resize baseline"):
        pictures = examples["reconstructions"][name]
        assert pictures.shape == (n, 3, 16, 16) and 0.0 <= pictures.min() and pictures.max() <= 1.0
    assert examples["latent"].shape == (3, 4, 4) and not model.training
    assert examples["baseline"].compression_ratio == model.compression_ratio == 16.0
    expected = examples["baseline"](torch.from_numpy(examples["images"]).float() / 255).numpy()
    np.testing.assert_allclose(examples["reconstructions"]["resize baseline"], expected)


def test_resize_baseline_metrics(tiny_test):
    metrics = evaluate.resize_baseline_metrics(tiny_test, 4)
    assert metrics["side"] == 8 and metrics["compression_ratio"] == 4
    assert metrics["psnr"] == pytest.approx(10 * math.log10(1 / metrics["mse"]))
    coarser = evaluate.resize_baseline_metrics(tiny_test, 64)
    assert coarser["psnr"] < metrics["psnr"]  # fewer numbers, worse reconstruction


# --------------------------------------------------------------------------- figures


def points_drawn(axes) -> int:
    return sum(len(collection.get_offsets()) for collection in axes.collections)


def test_embedding_figure_draws_every_point_once_per_panel():
    n_styles = 27
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(n_styles), 3)
    points = rng.normal(size=(len(labels), 2))
    assignments = rng.integers(0, 5, len(labels))
    classes = list(synth.STYLES)
    figure = plots.embedding_2d(points, labels, classes, assignments, title="test")
    assert isinstance(figure, Figure)
    style_axes, cluster_axes = figure.axes
    assert points_drawn(style_axes) == len(labels) and points_drawn(cluster_axes) == len(labels)
    assert len(style_axes.get_legend().get_texts()) == n_styles
    looks = {plots.style_look(label) for label in range(n_styles)}
    assert len(looks) == n_styles  # colour + marker tell all 27 styles apart
    only_styles = plots.embedding_2d(points, labels, classes)
    assert len(only_styles.axes) == 1 and points_drawn(only_styles.axes[0]) == len(labels)


def test_contingency_heatmap_counts_every_item():
    labels = np.array([0, 0, 1, 2, 2, 2])
    assignments = np.array([1, 1, 0, 0, 0, 2])
    figure = plots.contingency_heatmap(labels, assignments, ["A", "B", "C"])
    table = figure.axes[0].images[0].get_array()
    assert table.shape == (3, 3) and table.sum() == len(labels)


def test_reconstruction_figures():
    rng = np.random.default_rng(0)
    originals = (rng.random((5, 3, 16, 16)) * 255).astype(np.uint8)
    recon = rng.random((5, 3, 16, 16)).astype(np.float32)
    figure = plots.reconstruction_grid(originals, {"autoencoder": recon, "baseline": recon}, [0, 1, 2, 3, 4],
                                       ["a", "b", "c", "d", "e"], rows_per_figure_column=3)
    assert sum(len(axes.images) for axes in figure.axes) == 5 * 3
    latent = plots.latent_channels(rng.normal(size=(6, 4, 4)), originals[0])
    assert sum(len(axes.images) for axes in latent.axes) == 7
    records = [EpochRecord(epoch=e, train_loss=1.0 / e, val={"mse": 0.01, "psnr": 20.0 + e})
               for e in (1, 2, 3)]
    curves = plots.reconstruction_curves(records, baseline_psnr=21.0)
    loss_axes, psnr_axes = curves.axes
    assert len(loss_axes.lines[0].get_xdata()) == 3
    assert list(psnr_axes.lines[0].get_ydata()) == [21.0, 22.0, 23.0]
    bars = plots.cluster_scores({"pixels": dict.fromkeys(part2_autoencoder.METRIC_NAMES, 0.1),
                                 "autoencoder": dict.fromkeys(part2_autoencoder.METRIC_NAMES, 0.2)})
    assert len(bars.axes[0].patches) == 2 * len(part2_autoencoder.METRIC_NAMES)


# --------------------------------------------------------------------------- explorer and command line


def test_cluster_explorer_redraws_headless():
    from wikiart_core import widgets

    features, labels = blobs(n_per_blob=8, n_blobs=3)
    explorer = widgets.cluster_explorer({"blobs": features, "noise": np.random.default_rng(0).normal(size=features.shape)},
                                        labels, ["A", "B", "C"], seed=0, tsne_max_iter=250)
    explorer.k.value = 3
    explorer.redraw_button.click()
    assert explorer.last_result["representation"] == "blobs" and explorer.last_result["nmi"] == pytest.approx(1.0)
    explorer.representation.value = "noise"
    explorer.method.value = "tsne"
    explorer.k.value = 2
    explorer.redraw_button.click()
    assert explorer.last_error is None
    assert explorer.last_result["representation"] == "noise" and explorer.last_result["k"] == 2
    assert explorer.last_result["method"] == "tsne"
    # The panel's Output shows the last drawing and table, set in one update of its
    # `outputs` (not by capturing prints: that is what stalled nbclient, see widgets._show_in).
    shown = explorer.output.outputs
    assert [item["output_type"] for item in shown] == ["display_data", "stream"]
    assert shown[1]["text"].strip() == explorer.last_outputs[1].strip()


def write_paths_file(tmp_path, root) -> str:
    path = tmp_path / "paths.yaml"
    path.write_text(f"dataset: tiny\ndatasets:\n  tiny:\n    train: {root / 'train'}\n    test: {root / 'test'}\n"
                    f"cache_dir: {tmp_path / 'cache'}\noutputs_dir: {tmp_path / 'outputs'}\n")
    return str(path)


def test_cluster_command_writes_metrics_and_figures(tiny_root, tmp_path):
    paths = write_paths_file(tmp_path, tiny_root)
    out = tmp_path / "pixels"
    code = cli.main(["cluster", "--paths", paths, "--profile", "smoke", "--representation", "pixels",
                     "--pixel-side", "4", "--out", str(out), "--quiet"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["representation"] == "pixels" and metrics["feature_dims"] == 48
    assert 0.0 <= metrics["nmi"] <= 1.0 and "purity" in metrics
    for name in ("embedding_pca.png", "embedding_tsne.png", "contingency.png", "features_pixels.npz"):
        assert (out / name).is_file(), name
    # A model representation needs a checkpoint of the right kind.
    assert cli.main(["cluster", "--paths", paths, "--profile", "smoke", "--representation", "autoencoder",
                     "--out", str(tmp_path / "x"), "--quiet"]) == 2
    style_cnn = models.StyleCNN(n_classes=27, width=4, depth=2)
    saved = checkpoint.save_checkpoint(tmp_path / "style.pt", style_cnn, image_size=32)
    assert cli.main(["cluster", "--paths", paths, "--profile", "smoke", "--representation", "autoencoder",
                     "--checkpoint", str(saved), "--out", str(tmp_path / "x"), "--quiet"]) == 2
    code = cli.main(["cluster", "--paths", paths, "--profile", "smoke", "--representation", "stylecnn",
                     "--checkpoint", str(saved), "--out", str(tmp_path / "s"), "--no-tsne", "--k", "5",
                     "--quiet"])
    assert code == 0
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert metrics["k"] == 5 and metrics["feature_dims"] == style_cnn.embedding_dim


# --------------------------------------------------------------------------- KMeans seeds, intervals, pooling


def test_cluster_metrics_over_several_kmeans_seeds_averages_them():
    features, labels = blobs(n_per_blob=15, n_blobs=3)
    noise = np.random.default_rng(2).normal(size=features.shape)
    one = part2_autoencoder.cluster_metrics(noise, labels, seed=3)
    assert one["kmeans_seeds"] == 1 and "assignments_by_seed" not in one  # the command line's JSON stays plain
    several = part2_autoencoder.cluster_metrics(noise, labels, seed=3, kmeans_seeds=4)
    assert several["assignments_by_seed"].shape == (4, len(labels))
    np.testing.assert_array_equal(several["assignments"], one["assignments"])  # first seed = the single run
    each = [part2_autoencoder.cluster_metrics(noise, labels, seed=3 + offset)["nmi"] for offset in range(4)]
    assert several["nmi"] == pytest.approx(np.mean(each))
    assert "assignments" not in part2_autoencoder.scores_only(several)
    assert "assignments_by_seed" not in part2_autoencoder.scores_only(several)
    with pytest.raises(ValueError, match="kmeans_seeds"):
        part2_autoencoder.cluster_metrics(noise, labels, kmeans_seeds=0)


def test_resampled_scores_equal_scikit_learn_on_the_drawn_items():
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 40)
    assignments = np.stack([rng.integers(0, 4, 40), np.where(rng.random(40) < 0.8, labels, 0)])
    weights = rng.integers(0, 3, size=(5, 40)).astype(float)
    weights[0] = 1.0
    scores = part2_autoencoder.resampled_cluster_scores(labels, assignments, weights)
    assert scores["nmi"].shape == scores["ari"].shape == (5, 2)
    for b in range(5):
        drawn = np.repeat(np.arange(40), weights[b].astype(int))
        for s in range(2):
            assert scores["nmi"][b, s] == pytest.approx(normalized_mutual_info_score(labels[drawn], assignments[s][drawn]))
            assert scores["ari"][b, s] == pytest.approx(adjusted_rand_score(labels[drawn], assignments[s][drawn]))
    # scikit-learn's limit cases: one class and one cluster is a perfect match; all split is none.
    assert part2_autoencoder.resampled_cluster_scores([0, 0, 0], [1, 1, 1], np.ones(3))["nmi"][0, 0] == 1.0
    split = part2_autoencoder.resampled_cluster_scores([0, 0, 0, 0], [0, 1, 2, 3], np.ones(4))
    assert split["nmi"][0, 0] == 0.0 and split["ari"][0, 0] == 0.0
    with pytest.raises(ValueError, match="weights"):
        part2_autoencoder.resampled_cluster_scores(labels, assignments, np.ones(39))


def test_bootstrap_tells_a_real_difference_from_none():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 40)
    good = np.stack([np.where(rng.random(len(labels)) < 0.8, labels, rng.integers(0, 6, len(labels)))
                     for _ in range(3)])
    noise_a, noise_b = (rng.integers(0, 6, (3, len(labels))) for _ in range(2))
    result = part2_autoencoder.bootstrap_clusterings(
        labels, {"good": good, "noise a": noise_a, "noise b": noise_b},
        compare=[("good", "noise a"), ("noise a", "good"), ("noise a", "noise b")], n_resamples=500, seed=1)
    assert result["n_seeds"] == 3 and result["n_images"] == len(labels) and result["n_resamples"] == 500
    for name, values in (("good", good), ("noise a", noise_a)):
        interval = result["intervals"][name]["nmi"]
        full = part2_autoencoder.resampled_cluster_scores(labels, values, np.ones(len(labels)))["nmi"].mean()
        assert interval["mean"] == pytest.approx(full)
        assert interval["low"] < interval["mean"] < interval["high"]  # centred on the score (see the docstring)
    differences = result["differences"]
    assert differences["good - noise a"]["nmi"]["verdict"] == "better"
    assert differences["noise a - good"]["ari"]["verdict"] == "worse"
    assert differences["noise a - noise b"]["nmi"]["verdict"] == "no clear difference"
    assert differences["good - noise a"]["nmi"]["difference"] == pytest.approx(
        result["intervals"]["good"]["nmi"]["mean"] - result["intervals"]["noise a"]["nmi"]["mean"])
    # Same seed, same resamples.
    again = part2_autoencoder.bootstrap_clusterings(labels, {"good": good, "noise a": noise_a, "noise b": noise_b},
                                                    compare=[("good", "noise a")], n_resamples=500, seed=1)
    assert again["intervals"]["good"] == result["intervals"]["good"]
    words = part2_autoencoder.difference_words(differences["good - noise a"]["nmi"], "good", "noise a")
    assert words.startswith("good clusters closer to the styles than noise a (NMI ")
    assert "95% interval" in words
    assert part2_autoencoder.difference_words(differences["noise a - noise b"]["nmi"], "a", "b").startswith(
        "no clear difference between a and b")
    table = part2_autoencoder.metrics_table({"good": dict.fromkeys(part2_autoencoder.METRIC_NAMES, 0.5)},
                                            result["intervals"])
    assert "nmi interval" in table and "ari interval" in table and " to " in table.splitlines()[-1]
    with pytest.raises(ValueError, match="same number of KMeans seeds"):
        part2_autoencoder.bootstrap_clusterings(labels, {"a": good, "b": good[:2]})
    with pytest.raises(ValueError, match="not in assignments"):
        part2_autoencoder.bootstrap_clusterings(labels, {"a": good}, compare=[("a", "b")])
    with pytest.raises(ValueError, match="metric"):
        part2_autoencoder.bootstrap_clusterings(labels, {"a": good}, metrics=("purity",))


def test_pooled_latent_keeps_per_channel_statistics_and_drops_the_layout(tiny_test):
    latent = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    pooled = part2_autoencoder.latent_statistics(latent)
    assert pooled.shape == (2, 6)
    torch.testing.assert_close(pooled[:, :3], latent.mean(dim=(2, 3)))
    torch.testing.assert_close(pooled[:, 3:], latent.flatten(2).std(dim=2, unbiased=False))
    # Moving things around the grid changes the flattened latent, not the pooled one.
    moved = latent.flip(-1).roll(1, dims=-2)
    assert not torch.equal(moved.flatten(1), latent.flatten(1))
    torch.testing.assert_close(part2_autoencoder.latent_statistics(moved), pooled)
    with pytest.raises(ValueError, match="latent"):
        part2_autoencoder.latent_statistics(latent.flatten(1))

    torch.manual_seed(0)
    model = models.ConvAutoencoder(image_size=16, base_channels=4, depth=2, latent_channels=3).eval()
    wrapped = part2_autoencoder.PooledLatent(model)
    assert not wrapped.training
    features, labels = part2_autoencoder.extract(wrapped, tiny_test, batch_size=5)
    assert features.shape == (len(tiny_test), 6) and not model.training  # the autoencoder's mode is kept
    flat, _ = part2_autoencoder.extract(model, tiny_test)
    grid = torch.from_numpy(flat).reshape(len(tiny_test), 3, 4, 4)
    np.testing.assert_allclose(features, part2_autoencoder.latent_statistics(grid).numpy(), atol=1e-5)

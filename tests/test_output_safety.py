"""`-o` never destroys a file the command did not write, nor one of its own inputs."""

import os
import zipfile

import pytest
from conftest import NAMES

from bigram.formats.files import check_output, same_file

WAY_OUT = "give another name, or pass --force to overwrite it anyway"


def refused(result, path, reason):
    assert result.code == 2, result.err
    assert result.err == f"error: not overwriting {path}: {reason}; {WAY_OUT}\n"


@pytest.fixture
def text(tmp_path):
    """The user's only copy of some training text."""
    path = tmp_path / "n.txt"
    path.write_text("emma\nolivia\nava\nisabella\nsophia\n")
    return path


def test_training_text_given_as_output_is_kept(cli, text):
    before = text.read_bytes()
    refused(cli("train", "n.txt", "-o", "n.txt"), "n.txt", "it is an input of this command")
    refused(cli("train", "n.txt", "-o", "./n.txt"), "n.txt", "it is an input of this command")
    refused(cli("train", "*.txt", "-o", "n.txt"), "n.txt", "it is an input of this command")
    assert text.read_bytes() == before


def test_links_to_an_input_are_caught(cli, text, tmp_path):
    os.symlink("n.txt", tmp_path / "soft.npz")
    os.link(text, tmp_path / "hard.npz")
    before = text.read_bytes()
    for link in ("soft.npz", "hard.npz"):
        refused(cli("train", "n.txt", "--test-size", "0", "-o", link), link,
                "it is an input of this command")
    refused(cli("train", str(tmp_path / "soft.npz"), "-o", "n.txt"), "n.txt",
            "it is an input of this command")
    assert text.read_bytes() == before


def test_a_file_of_another_kind_is_kept(cli, text, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    refused(cli("train", "n.txt", "-o", "notes.txt"), "notes.txt", "it is not a bigram model file")
    assert notes.read_text() == "my notes\n"
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive:   # a zip, not our model
        archive.writestr("meta.npy", b"not numpy")
    refused(cli("train", "n.txt", "-o", "other.npz"), "other.npz", "it is not a bigram model file")


def test_force_overwrites_anyway(cli, text, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = cli("train", "n.txt", "--test-size", "0", "-o", "notes.txt", "--force")
    assert result.code == 0 and "replaced notes.txt" in result.err
    assert cli("info", "-m", "notes.txt").code == 0
    assert cli("train", "n.txt", "--test-size", "0", "-o", "n.txt", "--force").code == 0
    assert cli("info", "-m", "n.txt").code == 0


def test_replacing_an_own_model_stays_easy(cli, text, tmp_path):
    assert "wrote m.npz" in cli("train", "n.txt", "--test-size", "0", "-o", "m.npz").err
    assert "replaced m.npz" in cli("train", "n.txt", "--test-size", "0", "-o", "m.npz").err
    (tmp_path / "empty.npz").write_bytes(b"")   # nothing in it to lose
    assert cli("train", "n.txt", "--test-size", "0", "-o", "empty.npz").code == 0


def test_export_replaces_only_arpa_files(cli, text, tmp_path):
    assert cli("train", "n.txt", "--test-size", "0").code == 0
    refused(cli("export", "-o", "n.txt"), "n.txt", "it is not an ARPA file")
    refused(cli("export", "-o", "bigram.npz"), "bigram.npz", "it is an input of this command")
    (tmp_path / "old.arpa").write_text("\n\n\\data\\\nngram 1=1\n\n\\1-grams:\n-1 </s>\n\n\\end\\\n")
    assert cli("export", "-o", "old.arpa").code == 0
    assert (tmp_path / "old.arpa").read_text().lstrip().startswith("\\data\\")
    assert cli("export", "-o", "old.arpa").code == 0   # our own export again


def test_pictures_replace_only_pictures(cli, text, tmp_path):
    assert cli("train", "n.txt", "--test-size", "0").code == 0
    refused(cli("plot", "-o", "n.txt"), "n.txt", "it is not a picture")
    refused(cli("plot", "-o", "bigram.npz"), "bigram.npz", "it is an input of this command")
    assert cli("plot", "-o", "grid.png").code == 0
    assert cli("plot", "-o", "grid.png").code == 0
    (tmp_path / "old.svg").write_text('<?xml version="1.0"?>\n<svg></svg>\n')
    check_output(tmp_path / "old.svg", "picture")   # what matplotlib writes as .svg
    (tmp_path / "fake.svg").write_text("not a picture\n")
    refused(cli("plot", "-o", "fake.svg"), "fake.svg", "it is not a picture")
    refused(cli("train", "n.txt", "--model", "neural", "--steps", "1", "-o", "m.npz",
                "--plot", "n.txt"), "n.txt", "it is an input of this command")


def test_merge_and_tune_check_their_outputs(cli, text, tmp_path):
    assert cli("train", "n.txt", "--test-size", "0", "-o", "a.npz").code == 0
    before = (tmp_path / "a.npz").read_bytes()
    refused(cli("merge", "a.npz", "-o", "a.npz"), "a.npz", "it is an input of this command")
    assert (tmp_path / "a.npz").read_bytes() == before
    refused(cli("merge", "a.npz", "-o", "n.txt"), "n.txt", "it is not a bigram model file")
    refused(cli("tune", "n.txt", "-o", "n.txt"), "n.txt", "it is an input of this command")
    refused(cli("tune", str(NAMES), "-o", "n.txt"), "n.txt", "it is not a bigram model file")
    refused(cli("tune", str(NAMES), "--plot", "n.txt"), "n.txt", "it is not a picture")


def test_same_file_by_descriptor_and_missing_paths(tmp_path, text):
    with open(text, "rb") as stream:   # e.g. `bigram train - -o n.txt < n.txt`
        assert same_file(text, stream.fileno())
    assert not same_file(tmp_path / "missing", text)
    check_output(tmp_path / "new.npz", "model", [text])   # a new file is always fine
    with pytest.raises(Exception, match="the folder .* does not exist"):
        check_output(tmp_path / "no" / "m.npz", "model", force=True)

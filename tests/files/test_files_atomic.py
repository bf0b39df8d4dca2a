"""Outputs appear under their name only once complete: write to a hidden name, rename."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from comfy_core.files.atomic import atomic_path, is_partial_name, write_atomic

ROOT = Path(__file__).resolve().parents[2]

SAVER = """
import sys
import torch
from comfy_core.files import FolderPaths
from comfy_core.images.save import save_image_batch

folders = FolderPaths.build(__import__("pathlib").Path(sys.argv[1]))
folders.output_dir.mkdir(parents=True, exist_ok=True)
image = torch.rand(1, 3000, 3000, 3, generator=torch.Generator().manual_seed(0))
print("saving", flush=True)
save_image_batch(image, folders, "killed", kind="output", compress_level=9, metadata=False)
print("saved", flush=True)
"""


def test_failed_write_leaves_nothing_under_the_name(tmp_path):
    dest = tmp_path / "out.png"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed halfway")
    assert not dest.exists() and os.listdir(tmp_path) == []
    write_atomic(dest, b"whole")
    assert dest.read_bytes() == b"whole" and os.listdir(tmp_path) == ["out.png"]


def test_files_keep_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.bin", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o644


def test_sigkill_during_save_leaves_no_truncated_output(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "saving"
        output = tmp_path / "output"
        deadline = time.monotonic() + 60
        while not any(output.iterdir()):  # the first byte of the image is on disk
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    for path in output.iterdir():
        if is_partial_name(path.name):
            continue  # a hidden partial file: never listed as an output, never served
        assert path.name == "killed_00001_.png"
        with Image.open(path) as image:
            image.load()  # a file under its real name is always complete

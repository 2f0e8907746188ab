"""A result too large for memory is refused before anything is computed, with what to do instead (issue 20)."""

import pytest

import jaxbias as jb
import jaxbias.engine as engine
from jaxbias import io
from jaxbias.cli import main


def test_engine_refuses_a_result_larger_than_memory_before_computing(monkeypatch):
    monkeypatch.setattr(engine, "host_memory_bytes", lambda: 10**6)
    ran = []
    monkeypatch.setattr(engine, "_chunk_program", lambda *a, **k: ran.append(1))
    net, x = jb.nets.MLP(4, 1, "tanh"), jb.inputs.grid(2, 16)  # 256 points: 1 KiB of float32 per network
    with pytest.raises(ValueError, match=r"sample: the results of n=2,000 networks \(\(256, 1\) each\) would take "
                                         r"1.95 MiB in memory, more than the 977 KiB available: .*jb.summarize"):
        jb.sample(net, x, n=2000, progress=False)
    assert ran == []  # nothing compiled or run
    with pytest.raises(ValueError, match="jb.reduce with a stat"):
        jb.reduce(net, x, n=2000, progress=False)
    monkeypatch.undo()
    assert jb.sample(net, x, n=3, progress=False).shape == (3, 256, 1)  # small results still run


def test_sample_command_checks_the_size_of_all_cells(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(engine, "host_memory_bytes", lambda: 3 * 10**6)
    # 1000 networks x 256 points x 4 bytes = 1.02 MB per cell: one cell fits, four do not
    base = ["sample", "--width", "4", "--n", "1000", "--inputs", "grid:2:16", "--quiet"]
    assert main(base + ["--depth", "1", "2", "3", "4", "--out", str(tmp_path / "s.nc")]) == 2
    err = capsys.readouterr().err
    assert "--n 1000 on 256 points x 1 output(s) x 4 cells: the outputs would take 3.91 MiB in memory" in err
    assert "jaxbias redshift" in err and "jb.summarize" in err
    assert not (tmp_path / "s.nc.cells").exists()  # refused before the sweep started
    assert main(base + ["--depth", "1", "--out", str(tmp_path / "one.nc")]) == 0


def test_commands_refuse_existing_outputs_unless_overwrite(tmp_path, capsys):
    out, png = tmp_path / "r.nc", tmp_path / "f.png"
    base = ["sample", "--width", "4", "--depth", "1", "--n", "2", "--inputs", "grid:2:4", "--quiet", "--out", str(out)]
    assert main(base) == 0
    before = io.content_bytes(out)
    assert main(base) == 2
    assert f"'{out}' exists; pass --overwrite" in capsys.readouterr().err
    png.write_bytes(b"old figure")  # figures are outputs too
    assert main(base[:-2] + ["--out", str(tmp_path / "new.nc"), "--plot", str(png)]) == 2
    assert png.read_bytes() == b"old figure" and not (tmp_path / "new.nc").exists()
    assert main(base + ["--overwrite"]) == 0 and io.content_bytes(out) == before  # same run, same content

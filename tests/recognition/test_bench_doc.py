from edgevision.recognition.bench import BEGIN, END, _write_doc


def _summary(acc):
    row = dict(model="esda", config="c", epochs=1, window_acc=acc, recording_acc=acc, train_s=1.0, latency_ms=0.5,
               params=1000, dense_ops=2e6, effective_macs=1e5, effective_acs=0.0, activation_sparsity=0.5, energy_uj=0.46)
    return {"recordings": 20, "test_recordings": 4, "torch": "x", "rows": [row]}


def test_generated_table_replaces_only_its_section(tmp_path):
    doc = tmp_path / "recognition.md"
    doc.write_text(f"# Title\n\nhand text\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    _write_doc(doc, _summary(0.25))
    _write_doc(doc, _summary(0.75))
    text = doc.read_text()
    assert text.startswith("# Title\n\nhand text") and text.rstrip().endswith("after")
    assert "old" not in text and "0.250" not in text and text.count("| esda | c | 1 | 0.750 | 0.750 | 1.0 k |") == 1

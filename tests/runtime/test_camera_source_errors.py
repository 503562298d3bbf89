"""``camera:N`` with no camera: our one-line error only, none of OpenCV's own warning lines before it."""

from edgevision.cli import main


def test_missing_camera_is_one_line_without_opencv_warnings(tmp_path, capfd):
    # was: "[ WARN:0@2.806] global cap_v4l.cpp:915 open VIDEOIO(V4L2:/dev/video0): can't open camera by index"
    # and a libavdevice line on stderr before the error (OpenCV writes them to fd 2 itself)
    out = tmp_path / "out"
    code = main(["track", "--source", "camera:97", "--headless", "--seconds", "1", "--out", str(out)])
    captured = capfd.readouterr()
    assert code == 2 and captured.out == ""
    lines = [line for line in captured.err.replace("\r", "\n").splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("edgevision: error: camera:97") and "WARN" not in captured.err


def test_opencv_logging_is_restored():
    import cv2

    from edgevision.runtime.sources import quiet_opencv

    before = cv2.utils.logging.getLogLevel()
    with quiet_opencv():
        assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_SILENT
    assert cv2.utils.logging.getLogLevel() == before

"""``python -m au.bench_predict``: detector throughput on this CPU, PyTorch vs ONNX Runtime.

Times the model part of ``au.predict`` (normalised face crops in, AU probabilities and decisions
out) for each backbone and input size, on random-init weights (speed does not depend on them),
and prints one table of frames (faces) per second; then the median time of the work around the
model (Haar face detection per frame, cropping and preprocessing per face). Then the whole
predict path, end to end, in both runtimes: a 640x480 video with one face (faces detected every
``--detect-every`` frames and tracked between, eyes levelled, decoding in a background thread)
and a folder of face crops (``detector=none``), with the time per frame of every stage. Both
runtimes use the same number of threads and ONNX Runtime does not spin (its idle threads would
otherwise slow PyTorch down while they take turns). A default run takes about two minutes on 2
idle cores (numbers vary by +-30% when other processes share them).

Examples:
    python -m au.bench_predict
    python -m au.bench_predict --backbones mobilenet_v2 --sizes 224      # the issue-18 figures
    python -m au.bench_predict --backbones mobilenet_v1 densenet201 --sizes 224 --int8
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tabulate import tabulate  # noqa: E402

from au.aus import DISFA_DETECTION_AUS  # noqa: E402
from au.data.dataset import read_image  # noqa: E402
from au.data.transforms import eval_transform  # noqa: E402
from au.inference import end_to_end  # noqa: E402
from au.inference.detector import AUDetector  # noqa: E402
from au.inference.faces import HaarFaceDetector, face_crops  # noqa: E402
from au.inference.onnx_torchscript import (  # noqa: E402
    InferenceModel,
    export_onnx,
    onnx_session,
    quantize_onnx,
)
from au.inference.runtime import OnnxRuntime  # noqa: E402
from au.models.module import AULitModule  # noqa: E402
from au.models.preprocessing import backbone_normalization  # noqa: E402
from au.tasks.decision import au_thresholds  # noqa: E402

BACKBONES = ("mobilenet_v1", "mobilenet_v2", "densenet121")


def random_detector(backbone: str, image_size: int) -> AULitModule:
    """An untrained detector as ``au.fit`` builds it (channels-last, DISFA's 8 AUs)."""
    mean, std = backbone_normalization(backbone)
    return AULitModule(
        aus=list(DISFA_DETECTION_AUS),
        backbone={"name": backbone, "pretrained": False},
        data_config={"image_size": image_size, "channels": 3, "mean": mean, "std": std},
        channels_last=True,
    ).eval()


def interleaved_fps(
    runners: dict[str, Callable[[], object]], batch_size: int, iterations: int
) -> dict[str, float]:
    """Faces per second of each runner: median batch time, runners taking turns.

    Taking turns and the median keep a burst of load from other processes (2 shared cores)
    from favouring one runtime.
    """
    for run_batch in runners.values():
        run_batch()  # warm-up: allocations, kernel selection
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(iterations):
        for name, run_batch in runners.items():
            started = time.perf_counter()
            run_batch()
            times[name].append(time.perf_counter() - started)
    return {name: batch_size / float(np.median(values)) for name, values in times.items()}


def bench_one(backbone: str, size: int, args: argparse.Namespace, folder: Path) -> dict:
    """One table row: PyTorch and ONNX Runtime (and int8) frames per second."""
    module = random_detector(backbone, size)
    images = torch.randn(args.batch_size, 3, size, size)

    def pytorch_batch() -> torch.Tensor:
        with torch.no_grad():  # as au.bench times inference
            return torch.sigmoid(module(images)) > au_thresholds(module)

    path = export_onnx(InferenceModel(module), folder / f"{backbone}-{size}.onnx", images[:1])
    models = {"ONNX Runtime fps": path}
    if args.int8:
        models["ORT int8 fps"] = quantize_onnx(path, path.with_suffix(".int8.onnx"))
    feed = {"images": images.numpy()}
    runners = {"PyTorch fps": pytorch_batch}
    for column, model_path in models.items():
        session = onnx_session(model_path, args.threads)
        runners[column] = lambda s=session: s.run(None, feed)
    row = {"backbone": backbone, "size": size}
    row["params (M)"] = round(sum(p.numel() for p in module.parameters()) / 1e6, 2)
    row.update(interleaved_fps(runners, args.batch_size, args.iterations))
    row["ORT / PyTorch"] = f"{row['ONNX Runtime fps'] / row['PyTorch fps']:.2f}x"
    return row


def front_end_milliseconds(sizes: list[int], repeats: int) -> dict[str, float]:
    """Median milliseconds of the work around the model.

    Haar detection on a 640x480 portrait (matplotlib's sample photo), and cropping +
    ``eval_transform`` of its face at each size.
    """
    from matplotlib import cbook

    photo = read_image(Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), 3)
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 115:525] = cv2.resize(photo, (410, 480))  # 512x600, aspect kept
    haar = HaarFaceDetector()
    timings = {"Haar detection / frame": _median_ms(lambda: haar(frame), repeats)}
    faces = haar(frame)
    for size in sizes:
        transform = eval_transform(size)

        def prepare(transform=transform) -> None:
            _, crops = face_crops(frame, faces)
            [transform(image=crop) for crop in crops]

        timings[f"crop + preprocess / face at {size}"] = _median_ms(prepare, repeats)
    return timings


def _median_ms(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times[1:]))


def end_to_end_rows(args: argparse.Namespace, folder: Path) -> list[dict]:
    """Frames/s of the whole predict path on a video and on a folder of crops, per runtime."""
    backbone, size = args.backbones[0], args.sizes[0]
    module = random_detector(backbone, size)
    example = torch.randn(1, 3, size, size)
    path = export_onnx(InferenceModel(module), folder / "e2e.onnx", example)
    runtimes = {"PyTorch": None, "ONNX Runtime": OnnxRuntime(path, args.threads)}
    video = end_to_end.write_face_video(folder / "face640x480.avi", args.video_frames)
    crops = end_to_end.write_face_crops(folder / "crops", args.crops, size)
    rows = []
    for name, runtime in runtimes.items():
        detector = AUDetector(module, runtime=runtime)
        inputs = {
            f"video 640x480, {face} detect every {args.detect_every}": (
                video,
                end_to_end.video_tracker(args.detect_every, max_side=args.max_side, detector=face),
            )
            for face in args.face_detectors
        }
        inputs[f"folder of {args.crops} crops ({size} px JPEG)"] = (crops, None)
        for label, (location, tracker) in inputs.items():
            summary = end_to_end.run_on(detector, location, tracker, args.batch_size)
            row = {"input": label, "runtime": name, "frames/s": summary.frames_per_second}
            row.update(
                {f"{k} ms": v for k, v in summary.times.per_frame_ms(summary.frames).items()}
            )
            rows.append(row)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m au.bench_predict", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[224, 112])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=10, help="timed batches per number")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--int8", action="store_true", help="also time the int8 ONNX model")
    parser.add_argument("--video-frames", type=int, default=600, help="end-to-end video length")
    parser.add_argument("--crops", type=int, default=320, help="end-to-end folder of crops")
    parser.add_argument("--detect-every", type=int, default=5, help="end-to-end video")
    parser.add_argument("--max-side", type=int, default=320, help="Haar detection image side")
    parser.add_argument(
        "--face-detectors", nargs="+", default=["mtcnn", "haar"], choices=["mtcnn", "haar"],
        help="end-to-end video: the front ends to time (mtcnn is au.predict's default)",
    )  # fmt: skip
    parser.add_argument("--no-end-to-end", action="store_true", help="model and front end only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the benchmark and print the table; returns its rows."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for backbone in args.backbones:
            for size in args.sizes:
                rows.append(bench_one(backbone, size, args, Path(folder)))
                print(f"done {backbone} {size}", flush=True)
    print(
        f"\nfaces/s, batch {args.batch_size}, {args.threads} threads, {args.iterations} timed "
        f"batches each (median) after one warm-up, runtimes taking turns; torch "
        f"{torch.__version__}; model only (no face detection, decoding or preprocessing)"
    )
    print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=".1f"))
    around = front_end_milliseconds(args.sizes, args.iterations)
    print("outside the model, median ms: " + ", ".join(f"{k} {v:.2f}" for k, v in around.items()))
    if args.no_end_to_end:
        return rows
    with tempfile.TemporaryDirectory() as folder:
        whole = end_to_end_rows(args, Path(folder))
    print(
        f"\nend to end ({args.backbones[0]} at {args.sizes[0]} px, batch {args.batch_size}): "
        "frames/s of the whole predict path and ms per frame of each stage (decode runs in a "
        "background thread, beside the others; write includes emotions and CSV/JSON rows)"
    )
    print(tabulate(whole, headers="keys", tablefmt="github", floatfmt=".1f"))
    return rows + whole


if __name__ == "__main__":
    main()

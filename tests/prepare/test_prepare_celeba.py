"""CelebA: CRLF/irregular text files, AU proxies, masked AUs, identity-disjoint folds."""

import logging

import pytest

from au.data.index import read_index
from au.prepare import PrepareError, prepare

from .fixtures import (
    CELEBA_ATTRIBUTES,
    CELEBA_AXES,
    CELEBA_FIVE,
    CELEBA_IMAGES,
    assert_crops_centred,
    celeba_attributes,
    make_celeba,
    template_face_centre,
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba")
    return read_index(prepare("celeba", make_celeba(root / "raw"), root / "out", crop_size=48))


def test_proxy_labels_follow_smiling_and_mouth_slightly_open(prepared):
    table = prepared.table
    table = table.iloc[table["path"].str[-10:].argsort()].reset_index(drop=True)
    assert len(table) == len(CELEBA_IMAGES)
    smiling = CELEBA_ATTRIBUTES.index("Smiling")
    mouth = CELEBA_ATTRIBUTES.index("Mouth_Slightly_Open")
    for i, row in table.iterrows():
        assert row["AU12"] == (celeba_attributes(i)[smiling] == 1)
        assert row["AU25"] == (celeba_attributes(i)[mouth] == 1)
    assert prepared.au_columns == ["AU12", "AU25"]
    labels, mask = prepared.labels(["AU1", "AU6", "AU12", "AU25"])
    assert not mask[:, :2].any() and mask[:, 2:].all()  # unmapped AUs are masked


def test_subject_is_the_identity_and_folds_are_identity_disjoint(prepared, caplog):
    table = prepared.table
    assert table.groupby("subject")["fold"].nunique().max() == 1
    assert table.groupby("subject")["fold"].first().to_dict() == {"10": 1, "7": 2, "2880": 3}
    # identity 10 has a test image officially: kept as metadata, moved to its majority fold
    assert table[table["subject"] == "10"]["partition"].tolist() == ["train", "train", "test"]
    assert prepared.meta["folds"] == {"1": ["10"], "2": ["7"], "3": ["2880"]}


def test_crops_put_the_5_landmarks_on_the_template(prepared):
    assert_crops_centred(prepared, 48, at=template_face_centre(48, CELEBA_AXES, CELEBA_FIVE))


def test_shared_identities_are_reported_and_limit_subjects_works(tmp_path, caplog):
    raw = make_celeba(tmp_path / "raw")
    caplog.set_level(logging.WARNING, logger="au.prepare")
    index = read_index(prepare("celeba", raw, tmp_path / "out", crop_size=32, limit_subjects=["7"]))
    assert "1 identities appear in more than one official CelebA partition" in caplog.text
    assert index.table["subject"].tolist() == ["7", "7"]


def test_truncated_or_missing_text_files_and_corrupt_images_are_named(tmp_path):
    raw = make_celeba(tmp_path / "raw")
    attr = raw / "Anno/list_attr_celeba.txt"
    attr.write_bytes(b"\r\n".join(attr.read_bytes().split(b"\r\n")[:-3]) + b"\r\n")
    with pytest.raises(PrepareError, match=r"list_attr_celeba\.txt declares 7 rows but has 5"):
        prepare("celeba", raw, tmp_path / "out")
    raw = make_celeba(tmp_path / "raw2")
    (raw / "Anno/identity_CelebA.txt").unlink()
    with pytest.raises(PrepareError, match=r"identity_CelebA\.txt not found"):
        prepare("celeba", raw, tmp_path / "out2")
    raw = make_celeba(tmp_path / "raw3")
    (raw / "Img/img_align_celeba/000004.jpg").write_bytes(b"garbage")
    with pytest.raises(PrepareError, match=r"cannot decode image .*000004\.jpg"):
        prepare("celeba", raw, tmp_path / "out3")

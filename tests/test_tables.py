"""Reading an uploaded table as Chinese offices save it: UTF-8 with or without BOM, GBK, GB18030, .xlsx.

Every file here is made the way the office's software makes it (the
encodings Excel on Chinese Windows saves CSV in, a workbook openpyxl
writes) and then broken the ways uploads break: cut short, renamed,
empty, binary.
"""

import io
import zipfile
from datetime import datetime

import openpyxl
import pytest
from django.utils import translation

from citysafety.tables import RowError, TableError, errors_by_row, table_format, table_read

# A roster-like sheet with Chinese headers and values, as a Chinese office writes it.
CHINESE = "日期,班次,部门,值班人员,备注\n2026-12-01,白班,燃气公司,张伟,春节前检查\n2026-12-02,夜班,供水公司,李娜,\n"


def workbook(*rows: list) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig", "utf-8"])
def test_a_csv_in_any_encoding_excel_saves_reads_the_same_chinese_cells(encoding):
    data = CHINESE.encode(encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf")  # the byte order mark "CSV UTF-8" begins with

    table = table_read(data, kind="csv")

    assert table.columns == ["日期", "班次", "部门", "值班人员", "备注"]
    assert [(row.number, row.cells) for row in table.rows] == [
        (2, {"日期": "2026-12-01", "班次": "白班", "部门": "燃气公司", "值班人员": "张伟", "备注": "春节前检查"}),
        (3, {"日期": "2026-12-02", "班次": "夜班", "部门": "供水公司", "值班人员": "李娜", "备注": ""}),
    ]


def test_a_gb18030_character_outside_gbk_is_read():
    # 𠀀 (U+20000) is in GB18030's four-byte range only: a GBK reader fails on it.
    data = "name,note\n𠀀,㐀\n".encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("gbk")

    assert table_read(data, kind="csv").rows[0].cells == {"name": "𠀀", "note": "㐀"}


def test_blank_rows_are_dropped_and_the_others_keep_the_number_the_sheet_shows():
    data = "a,b\n1,2\n,\n\n 3 ,4\n,,\n,\n".encode("gbk")

    table = table_read(data, kind="csv")

    assert [(row.number, row.cells) for row in table.rows] == [(2, {"a": "1", "b": "2"}), (5, {"a": " 3 ", "b": "4"})]


def test_an_xlsx_made_by_openpyxl_keeps_its_cell_types_and_drops_trailing_empty_rows():
    data = workbook(["Sensor", "观测时间", "Value"], ["FLOW-1", datetime(2026, 1, 2, 3, 4), 5.5], [None, None, None])

    table = table_read(data, kind="xlsx")

    assert table.columns == ["sensor", "观测时间", "value"]
    assert [(row.number, row.cells) for row in table.rows] == [
        (2, {"sensor": "FLOW-1", "观测时间": datetime(2026, 1, 2, 3, 4), "value": 5.5})
    ]


def cut_short(data: bytes) -> bytes:
    return data[: len(data) // 2]


def damaged_sheet() -> bytes:
    """A workbook whose zip is sound but whose sheet's XML stops in the middle."""
    good = zipfile.ZipFile(io.BytesIO(workbook(["a"], *[[n] for n in range(100)])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for item in good.infolist():
            content = good.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            archive.writestr(item, content)
    return buffer.getvalue()


def not_a_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind", "english", "chinese"),
    [
        (b"", "csv", "The file is empty", "文件是空的"),
        (b"  \r\n\r\n", "csv", "The file is empty", "文件是空的"),
        (b",,,\r\n,,,\r\n", "csv", "The file is empty", "文件是空的"),
        (b"", "xlsx", "The file is empty", "文件是空的"),
        (workbook([None, None]), "xlsx", "The file is empty", "文件是空的"),
        ("a,b\n1,2\n".encode("utf-16"), "csv", "not CSV text in UTF-8, GBK or GB18030", "不是 UTF-8、GBK 或 GB18030"),
        (bytes(range(256)) * 8, "csv", "not CSV text in UTF-8, GBK or GB18030", "不是 UTF-8、GBK 或 GB18030"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "csv", "binary data", "二进制数据"),
        (workbook(["a"], [1]), "csv", "an Excel workbook, not CSV text", "是 Excel 工作簿"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "csv", "Old Excel files (.xls)", "旧版 Excel 文件"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "xlsx", "Old Excel files (.xls)", "旧版 Excel 文件"),
        (cut_short(workbook(["a"], [1])), "xlsx", "damaged, cut short", "已损坏"),
        (not_a_workbook(), "xlsx", "damaged, cut short", "已损坏"),
        (damaged_sheet(), "xlsx", "damaged, cut short", "已损坏"),
        (b"a,b\n1," + b"x" * 200_000 + b"\n", "csv", "Line 2 of the file is not CSV", "第 2 行不是有效的 CSV"),
        (b"a,b\n1,2\n", "xlsx", "not an Excel workbook (.xlsx)", "不是 Excel 工作簿"),
        (b"a,b,a\n1,2,3\n", "csv", "names the column “a” twice", "两次"),
    ],
    ids=[
        "empty",
        "blank-lines",
        "only-commas",
        "empty-xlsx",
        "xlsx-without-cells",
        "utf-16",
        "random-bytes",
        "png-named-csv",
        "xlsx-named-csv",
        "xls-named-csv",
        "xls-named-xlsx",
        "truncated-xlsx",
        "docx-named-xlsx",
        "damaged-sheet-xml",
        "cell-over-128-kb",
        "csv-named-xlsx",
        "repeated-column",
    ],
)
def test_a_file_that_is_no_table_is_refused_in_one_sentence_in_the_readers_language(data, kind, english, chinese):
    with translation.override("en"), pytest.raises(TableError) as refused:
        table_read(data, kind=kind)
    assert english in str(refused.value)
    assert refused.value.field == "file"
    # One sentence, none of Python's own words ("codec", "zip file").
    assert "codec" not in str(refused.value)
    assert "zip" not in str(refused.value)

    with translation.override("zh-hans"), pytest.raises(TableError) as refused:
        table_read(io.BytesIO(data), kind=kind)
    assert chinese in str(refused.value)


@pytest.mark.parametrize(
    ("name", "chosen", "kind"),
    [("a.CSV", None, "csv"), ("a.xlsx", None, "xlsx"), ("a.xlsm", None, "xlsx"), ("a.bin", "csv", "csv")],
)
def test_the_format_is_the_one_chosen_or_the_names_ending(name, chosen, kind):
    assert table_format(name, chosen) == kind


@pytest.mark.parametrize(
    ("name", "chosen", "says"),
    [("a.xls", None, "Old Excel files"), ("a.txt", None, "Cannot tell the format"), ("a.csv", "ods", "Unknown")],
)
def test_a_format_that_is_not_read_is_named(name, chosen, says):
    with translation.override("en"), pytest.raises(TableError, match=says):
        table_format(name, chosen)


def test_errors_are_listed_under_their_row_and_a_row_counts_once():
    errors = [RowError(5, "value", "bad"), RowError(3, "sensor", "unknown"), RowError(5, "sensor", "unknown")]

    grouped = errors_by_row(errors)

    assert [(row, [e.column for e in row_errors]) for row, row_errors in grouped] == [
        (3, ["sensor"]),
        (5, ["value", "sensor"]),
    ]
    with translation.override("en"):
        assert str(errors[0]) == "Row 5, column “value”: bad"
        assert errors[0].problem == "Column “value”: bad"
    with translation.override("zh-hans"):
        assert errors[0].problem == "“value”列：bad"  # noqa: RUF001

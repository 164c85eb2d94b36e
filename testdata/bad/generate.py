#!/usr/bin/env python3
"""Writes the malformed-input corpus: every file here beside manifest.json, which says what
each must do: load `rows` rows, or fail with an `error` (a phrase the message holds, after
the file's name). Run from anywhere; it rewrites the folder's files. The engine's
`bad_input` test runs each through detect, job create and run. Files too large to keep in
the repository (a 100,000-column header, a field over the record limit, a type change past
the detection sample) and the Parquet cases are made by the test itself."""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
cases = {}


def put(name, data, **expect):
    assert len(expect) == 1 and next(iter(expect)) in ("rows", "error"), name
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    cases[name] = expect


H = "id,name,amount\n"
ok = lambda n, start=1: "".join(f"{i},n{i},{i}.5\n" for i in range(start, start + n))

# --- CSV: quoting -------------------------------------------------------------------------
put("quote_unclosed_at_end.csv", H + ok(3) + '4,"never closed,1.5\n', error="never closes")
put("quote_unclosed_mid_file.csv", H + ok(2) + '3,"open,1.5\n' + ok(3, 4), error="never closes")
put("quote_only_one.csv", '"', error="")
put("quote_only_two.csv", '""', error="")
put("quote_only_many.csv", '"""""""\n""\n"', rows=0)
put("quote_inside_unquoted_field.csv", H + '1,ab"cd,1.5\n2,x,2.5\n', rows=2)
put("quote_escaped_doubled.csv", H + '1,"say ""hi""",1.5\n2,"a,b",2.5\n', rows=2)
put("quote_backslash_escaped.csv", H + '1,"say \\"hi\\"",1.5\n', rows=1)
put("quote_newline_inside.csv", H + '1,"line one\nline two",1.5\n2,"a\r\nb",2.5\n', rows=2)
put("quote_text_after_closing.csv", H + '1,"ab"cd,1.5\n2,x,2.5\n', rows=2)
put("quote_single_quotes.csv", "id,name\n1,'a,b'\n2,'c,d'\n", error="expected 2 fields")

# --- CSV: ragged rows and delimiters --------------------------------------------------------
put("ragged_short_row.csv", H + ok(2) + "3,n3\n" + ok(2, 4), error="expected 3 fields")
put("ragged_long_row.csv", H + ok(2) + "3,n3,3.5,extra\n", error="expected 3 fields")
put("ragged_empty_field_row.csv", H + ok(1) + ",,\n", rows=2)
put("ragged_last_row_short.csv", H + ok(3) + "4", error="expected 3 fields")
put("delimiter_semicolon_decimal_comma.csv", "id;amount\n1;1,5\n2;2,5\n", rows=2)
put("delimiter_tab_with_commas.csv", "id\tnote\n1\ta,b,c\n2\td,e\n", rows=2)
put("delimiter_pipe.csv", "id|name\n1|a\n2|b\n", rows=2)
put("delimiter_trailing_on_every_line.csv", "id,name,\n1,a,\n2,b,\n", rows=2)
put("delimiter_only_line.csv", H + ",,\n,,\n", rows=2)
put("one_column_many_rows.csv", "value\n" + "".join(f"{i}\n" for i in range(1000)), rows=1000)

# --- CSV: empty, blank, header only ----------------------------------------------------------
put("empty.csv", b"", rows=0)
put("blank_lines_only.csv", "\n\n\r\n\n", rows=0)
put("whitespace_only.csv", "   \n \t \n", rows=0)
put("header_only.csv", H, rows=0)
put("header_only_no_newline.csv", H.rstrip("\n"), rows=0)
put("no_final_newline.csv", H + ok(2) + "3,n3,3.5", rows=3)
put("blank_lines_between_rows.csv", H + "1,a,1.5\n\n\n2,b,2.5\n\n", rows=2)

# --- CSV: line endings ------------------------------------------------------------------------
put("line_endings_cr_only.csv", H.replace("\n", "\r") + ok(3).replace("\n", "\r"), rows=3)
put("line_endings_crlf.csv", (H + ok(3)).replace("\n", "\r\n"), rows=3)
put("line_endings_mixed.csv", "id,name,amount\r\n1,a,1.5\n2,b,2.5\r3,c,3.5\r\n", rows=3)

# --- CSV: encodings and odd bytes -------------------------------------------------------------
# Encodings are detected: a file that is not UTF-8 and has no valid UTF-8 beyond ASCII is
# read in the legacy encoding chardetng guesses; UTF-16 is recognised by its mark or NULs.
put("utf8_invalid_byte.csv", H.encode() + b"1,caf\xe9,1.5\n2,b,2.5\n", rows=2)
put("utf8_truncated_sequence.csv", H.encode() + b"1,\xe2\x82,1.5\n", rows=1)
put("utf8_overlong_encoding.csv", H.encode() + b"1,\xc0\xaf,1.5\n", rows=1)
put("utf16le_no_bom.csv", (H + ok(2)).encode("utf-16-le"), rows=2)
put("utf16be_no_bom.csv", (H + ok(2)).encode("utf-16-be"), rows=2)
put("utf16le_with_bom.csv", b"\xff\xfe" + (H + ok(2)).encode("utf-16-le"), rows=2)
put("latin1_accents.csv", "id,name\n1,café\n2,naïve\n".encode("latin-1"), rows=2)
put("shift_jis.csv", "id,name\n1,日本語\n".encode("shift_jis"), rows=1)
# UTF-8 with one bad byte among valid characters is UTF-8 gone wrong, not another encoding.
put("utf8_mostly_valid_one_bad_byte.csv", "id,name\n1,Zoë\n".encode() + b"2,caf\xe9\n", error="UTF-8")
put("bom_at_start.csv", "\ufeff" + H + ok(2), rows=2)
put("bom_twice_at_start.csv", "\ufeff\ufeff" + H + ok(2), rows=2)
put("bom_in_the_middle.csv", H + "1,a\ufeffb,1.5\n\ufeff2,b,2.5\n", rows=2)
put("nul_in_value.csv", H.encode() + b"1,a\x00b,1.5\n2,b,2.5\n", rows=2)
put("nul_in_header.csv", b"id,na\x00me,amount\n1,a,1.5\n", rows=1)
put("nul_bytes_only.csv", b"\x00" * 64, error="NUL bytes")
put("control_chars_in_values.csv", H + "1,a\x01\x02\x1b[31mred,1.5\n", rows=1)
put("binary_garbage.csv", bytes(range(256)) * 8, error="")
put("gzip_bytes_named_csv.csv", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(40), error="")

# --- CSV: column names ------------------------------------------------------------------------
put("names_duplicate.csv", "a,a,A,b,a\n1,2,3,4,5\n", rows=1)
put("names_empty.csv", ",,name,\n1,2,3,4\n", rows=1)
put("names_all_empty.csv", ",,\n1,2,3\n", rows=2)
put("names_sql_keywords.csv", "select,from,where,order,group,table,limit,null\n1,2,3,4,5,6,7,8\n", rows=1)
put("names_with_quotes.csv", '"a""b",it\'s,`c`,"d\\"\nx,y,z,w\n', rows=1)
put("names_spaces_dots_unicode.csv", "first name,a.b,Größe,名前,emoji😀\n1,2,3,4,5\n", rows=1)
put("names_differ_by_case.csv", "Id,ID,id\n1,2,3\n", rows=1)
put("names_very_long.csv", "x" * 300 + ",y\n1,2\n", rows=1)
put("names_numbers_only.csv", "1,2,3\na,b,c\n", rows=1)
put("names_padded_with_spaces.csv", "  id  , name ,amount \n1,a,1.5\n", rows=1)
put("names_newline_in_quoted_header.csv", '"first\nname",b\n1,2\n', rows=1)

# --- CSV: widths and sizes --------------------------------------------------------------------
wide = lambda n: ",".join(f"c{i}" for i in range(n)) + "\n" + ",".join(str(i) for i in range(n)) + "\n"
put("columns_5000.csv", wide(5000), rows=1)
put("columns_10000.csv", wide(10000), rows=1)
put("columns_10001.csv", wide(10001), error="columns")
put("field_quarter_megabyte.csv", H + "1," + "x" * (1 << 18) + ",1.5\n2,b,2.5\n", rows=2)
put("line_of_quarter_megabyte_unquoted.csv", "a\n" + "y" * (1 << 18) + "\n", rows=1)

# --- CSV: values ------------------------------------------------------------------------------
put("values_int_overflow.csv", "n\n1\n99999999999999999999999999\n", rows=2)
put("values_mixed_types.csv", "v\n1\nabc\n2.5\ntrue\n", rows=4)
put("values_invalid_dates.csv", "d\n2024-02-30\n2024-13-01\n", rows=2)
put("values_timestamps_mixed_zones.csv", "t\n2024-11-19T08:00:00Z\n2024-11-19T08:00:00+05:30\n2024-11-19 08:00:00\n", rows=3)
put("values_booleans_mixed.csv", "b\ntrue\nFALSE\nyes\n0\n", rows=4)
put("values_numeric_with_spaces.csv", "n\n 1 \n2 \n", rows=2)
put("values_nan_inf.csv", "f\nNaN\ninf\n-Infinity\n1.5\n", rows=4)
put("values_all_null_column.csv", "a,b\n1,\n2,\n", rows=2)
put("values_extreme_floats.csv", "f\n1e308\n-1e308\n5e-324\n", rows=3)
put("values_leading_zeros.csv", "zip\n00123\n04567\n", rows=2)

# --- JSON -------------------------------------------------------------------------------------
rec = lambda i: json.dumps({"id": i, "name": f"n{i}", "amount": i + 0.5})
jl = lambda n: "".join(rec(i) + "\n" for i in range(1, n + 1))
put("json_truncated_last_record.jsonl", jl(3) + '{"id": 4, "name": "n', error="")
put("json_invalid_line_in_middle.jsonl", jl(2) + "{not json}\n" + jl(2), error="line 3")
put("json_trailing_comma.jsonl", '{"id": 1,}\n', error="")
put("json_comments.jsonl", '// a comment\n{"id": 1}\n', error="")
put("json_top_level_scalar.json", "42\n", error="")
put("json_top_level_string.jsonl", '"just a string"\n', error="")
put("json_array_of_scalars.json", "[1, 2, 3]\n", error="")
put("json_null_line.jsonl", 'null\n{"id": 1}\n', error="")
put("json_empty_objects.jsonl", "{}\n{}\n", error="")
put("json_empty_array.json", "[]", rows=0)
put("json_array_of_objects.json", json.dumps([{"id": 1}, {"id": 2}]), rows=2)
put("json_single_object.json", '{"id": 1, "name": "a"}', rows=1)
put("json_pretty_printed_objects.jsonl", json.dumps({"id": 1}, indent=2) + "\n" + json.dumps({"id": 2}, indent=2) + "\n", rows=2)
put("json_mixed_types_per_key.jsonl", '{"v": 1}\n{"v": "a"}\n{"v": true}\n{"v": 2.5}\n{"v": null}\n', rows=5)
put("json_mixed_scalar_and_object.jsonl", '{"v": 1}\n{"v": {"x": 1}}\n{"v": [1, 2]}\n', rows=3)
put("json_optional_keys.jsonl", '{"a": 1, "b": 2}\n{"a": 3}\n{"b": 4}\n', rows=3)
put("json_keys_in_other_orders.jsonl", '{"a": 1, "b": 2}\n{"b": 3, "a": 4}\n', rows=2)
put("json_duplicate_keys.jsonl", '{"a": 1, "a": 2}\n', error="twice")
put("json_nested_100_levels.jsonl", '{"deep": ' + "[" * 100 + "1" + "]" * 100 + "}\n", rows=1)
put("json_nested_10000_levels.jsonl", '{"deep": ' + "[" * 10000 + "1" + "]" * 10000 + "}\n", rows=1)
put("json_nul_escape.jsonl", '{"s": "a\\u0000b"}\n', rows=1)
put("json_raw_nul_byte.jsonl", b'{"s": "a\x00b"}\n', error="")
put("json_invalid_utf8.jsonl", b'{"s": "caf\xe9"}\n', error="")
put("json_bom.jsonl", "\ufeff" + jl(2), rows=2)
put("json_huge_number.jsonl", '{"n": 1e400}\n{"n": 123456789012345678901234567890}\n', rows=2)
put("json_long_string.jsonl", json.dumps({"s": "x" * (1 << 18)}) + "\n", rows=1)
put("json_keys_sql_and_quotes.jsonl", json.dumps({"select": 1, 'a"b': 2, "it's": 3, "": 4}) + "\n", rows=1)
put("json_keys_differ_by_case.jsonl", '{"Id": 1, "id": 2, "ID": 3}\n', rows=1)
put("json_crlf_lines.jsonl", jl(3).replace("\n", "\r\n"), rows=3)
put("json_blank_lines.jsonl", "\n" + rec(1) + "\n\n\n" + rec(2) + "\n\n", rows=2)
put("json_10001_keys.jsonl", json.dumps({f"k{i}": i for i in range(10001)}) + "\n", error="columns")
put("json_empty.jsonl", b"", rows=0)
put("json_whitespace_only.jsonl", "  \n\n", rows=0)
put("json_concatenated_no_newlines.jsonl", rec(1) + rec(2) + rec(3), rows=3)
put("json_unterminated_string.jsonl", '{"s": "never ends}\n{"id": 2}\n', error="")

with open(os.path.join(HERE, "manifest.json"), "w") as f:
    json.dump(cases, f, indent=1, sort_keys=True, ensure_ascii=False)
    f.write("\n")
print(f"{len(cases)} files")

"""Files embedded in a laid-out PDF/A-3 document as associated files, with pikepdf.

WeasyPrint lays out the body alone (it would read, hash and deflate each file whole); here
each file's bytes, deflated and digested as they were written (`reports.attachments.Spool`),
become a /FlateDecode stream as they are. PDF/A-3 (ISO 19005-3, 6.8) allows any embedded
file that is an *associated* file, which means, per file:

- an embedded file stream (/Type /EmbeddedFile) whose /Subtype is its MIME type, with
  /Params giving /ModDate (and here /CreationDate, /Size and the MD5 /CheckSum, as
  WeasyPrint writes them);
- a file specification (/Type /Filespec) with /F and /UF (its name), /Desc, /EF pointing
  at the stream, and /AFRelationship (/Data: the files are the data the body summarises);
- the file specification listed in the catalog's /AF array and, by name, in the
  /EmbeddedFiles name tree (which PDF readers' attachment panels show).

The document's metadata (XMP with pdfaid part 3, conformance U) is WeasyPrint's, untouched.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile

import pikepdf
from pikepdf import Array, Dictionary, Name, String
from pikepdf.models.metadata import encode_pdf_date

from reports.attachments import Attachment


def associated_files(body: bytes, attachments: list[Attachment],
                     when: dt.datetime | None = None) -> bytes:
    """`body` (a PDF/A-3 document) with `attachments` embedded as associated files, dated
    `when` (now)."""
    stamp = String(encode_pdf_date(when or dt.datetime.now(dt.UTC).replace(microsecond=0)))
    with pikepdf.open(io.BytesIO(body)) as pdf:
        root = pdf.Root
        if Name.Names not in root:
            root.Names = Dictionary()
        names = (pikepdf.NameTree(root.Names.EmbeddedFiles) if Name.EmbeddedFiles in root.Names
                 else pikepdf.NameTree.new(pdf))
        associated = root.AF if Name.AF in root else Array()
        for a in attachments:
            spool = a.spooled()
            stream = pikepdf.Stream(pdf, b"")
            stream.write(spool.deflated(), filter=Name.FlateDecode)
            stream.Type = Name.EmbeddedFile
            stream.Subtype = Name("/" + a.media_type)  # written /text#2Fcsv
            stream.Params = Dictionary(Size=spool.size, CheckSum=String(spool.md5),
                                       CreationDate=stamp, ModDate=stamp)
            spec = pdf.make_indirect(Dictionary(
                Type=Name.Filespec, F=String(a.name), UF=String(a.name),
                Desc=String(a.description), AFRelationship=Name.Data,
                EF=Dictionary(F=stream, UF=stream)))
            names[a.name] = spec
            associated.append(spec)
        root.Names.EmbeddedFiles = names.obj
        root.AF = associated
        with tempfile.TemporaryFile() as out:  # its bytes are read once, not copied
            # The streams go out as they are: nothing is decoded and deflated again.
            pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none)
            out.seek(0)
            return out.read()

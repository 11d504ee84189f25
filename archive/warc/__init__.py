"""The WARC, CDXJ and WACZ formats: bytes in, bytes out, no database.

``writer`` appends records to rotating files; ``records`` reads them back and checks them;
``cdxj`` indexes closed files; ``http`` and ``exchange`` hold the
HTTP messages a record carries.
"""

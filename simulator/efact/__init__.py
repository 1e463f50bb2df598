"""The eFact flat file (920000 invoices and the insurer's 931000/920098/920099/920900 answers).

One job per module: `layout` (record layouts as data), `parser` (streaming reader), `checks`
(pure rules), `errors` (rejections with catalogue texts), `writer` (files and answers),
`generator` (valid and faulty files from the population).
"""

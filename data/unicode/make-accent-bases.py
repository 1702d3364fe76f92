# Writes accent-bases.txt: every character (outside the Hangul syllables, which decompose by formula) whose canonical
# decomposition (NFD) differs from it once its non-spacing marks (category Mn) are dropped, with what is left — what
# BERT's uncased tokenizers do to each word (Hugging Face's BasicTokenizer._run_strip_accents: NFD, then marks removed).
# Condense runs with invariant globalization, where .NET's string.Normalize leaves non-ASCII text as it is, so the table
# ships with the library. One line per character: its code point and the code points left, in hex. Made from Python's
# unicodedata (Unicode 14.0.0):  /usr/bin/python3 make-accent-bases.py > accent-bases.txt
import unicodedata
print(f"# Unicode {unicodedata.unidata_version}: character -> NFD without non-spacing marks")
for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF or 0xAC00 <= cp <= 0xD7A3 or unicodedata.category(chr(cp)) == "Mn":
        continue
    base = "".join(c for c in unicodedata.normalize("NFD", chr(cp)) if unicodedata.category(c) != "Mn")
    if base != chr(cp):
        print(f"{cp:X} {' '.join(f'{ord(c):X}' for c in base)}".rstrip())

# spm-bpe.model: a 500-piece SentencePiece BPE model trained as Llama 2's tokenizer.model was (byte fallback, digits split,
# identity normalization, extra whitespace kept) by Google's spm_train (Debian sentencepiece 0.1.97) on the first 3,000
# passages of data/text/corpus.txt:
#   spm_train --input=train.txt --model_prefix=spm-bpe --vocab_size=500 --model_type=bpe --byte_fallback=true \
#     --character_coverage=0.9995 --split_digits=true --normalization_rule_name=identity --remove_extra_whitespaces=false \
#     --allow_whitespace_only_pieces=true
# Writes spm-bpe-expected.json: Google's own encoder's ids (python3-sentencepiece) for the first 120 passages of
# fortunes.txt and a few with characters no piece covers (bytes), digits and other scripts.
#   /usr/bin/python3 encode-spm-bpe.py ../../../../data/text/fortunes.txt > spm-bpe-expected.json
import json, sys, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file="spm-bpe.model")
passages = [l.strip() for l in open(sys.argv[1], encoding="utf-8") if l.strip()][:120]
passages += ["Ελληνικά και русский текст", "Year 1999: 3.14159 and 42%", "emoji 🙂 here", "Café déjà vu — naïve façade",
             "中文字符 and 日本語", "two  spaces and\ttab"]
print(json.dumps({"passages": passages, "ids": [sp.encode(p) for p in passages]}, ensure_ascii=False))

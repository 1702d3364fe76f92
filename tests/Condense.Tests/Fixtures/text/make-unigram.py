# Writes unigram-tokenizer.json (XLM-RoBERTa's layout) and unigram-t5-tokenizer.json (T5's) from a SentencePiece Unigram
# model, as Hugging Face's convert_slow_tokenizer (XLMRobertaConverter, T5Converter) writes them; expected ids then come
# from Hugging Face's own tokenizers library (encode-unigram.js), not from this script.
#   spm_train --input=train.txt --model_prefix=uni --vocab_size=600 --model_type=unigram --character_coverage=1.0
#   (train.txt: the first 3,000 passages of data/text/corpus.txt; Debian packages sentencepiece, python3-sentencepiece)
#   /usr/bin/python3 make-unigram.py uni.model
import base64, json, sys
from sentencepiece import sentencepiece_model_pb2 as model_pb2

proto = model_pb2.ModelProto()
proto.ParseFromString(open(sys.argv[1], "rb").read())
pieces = [(p.piece, p.score) for p in proto.pieces]
charsmap = base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode()
normalizer = {"type": "Sequence", "normalizers": [
    {"type": "Precompiled", "precompiled_charsmap": charsmap},
    {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
metaspace = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}


def special(token, i):
    return {"SpecialToken": {"id": token, "type_id": i}}


def template(single, pair, specials):
    return {"type": "TemplateProcessing", "single": single, "pair": pair,
            "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in specials.items()}}


def added(tokens):
    return [{"id": i, "content": t, "single_word": False, "lstrip": t == "<mask>", "rstrip": False, "normalized": False,
             "special": True} for t, i in tokens.items()]


def write(path, document):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, indent=1)


# XLM-RoBERTa: fairseq's ids (<s> 0, <pad> 1, </s> 2, <unk> 3), the model's pieces after its own three specials, <mask> last.
vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]] + [[p, s] for p, s in pieces[3:]] + [["<mask>", 0.0]]
sequence = {"Sequence": {"id": "A", "type_id": 0}}
write("unigram-tokenizer.json", {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": added({"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": len(vocab) - 1}),
    "normalizer": normalizer, "pre_tokenizer": metaspace,
    "post_processor": template([special("<s>", 0), sequence, special("</s>", 0)],
                               [special("<s>", 0), sequence, special("</s>", 0), special("</s>", 0),
                                {"Sequence": {"id": "B", "type_id": 0}}, special("</s>", 0)], {"<s>": 0, "</s>": 2}),
    "decoder": metaspace, "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False}})

# T5: <pad> 0, </s> 1, <unk> 2, then the pieces; words split at whitespace before Metaspace; </s> after each passage.
vocab = [["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]] + [[p, s] for p, s in pieces[3:]]
write("unigram-t5-tokenizer.json", {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": added({"<pad>": 0, "</s>": 1, "<unk>": 2}),
    "normalizer": normalizer,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, metaspace]},
    "post_processor": template([sequence, special("</s>", 0)],
                               [sequence, special("</s>", 0), {"Sequence": {"id": "B", "type_id": 0}}, special("</s>", 0)],
                               {"</s>": 1}),
    "decoder": metaspace, "model": {"type": "Unigram", "unk_id": 2, "vocab": vocab, "byte_fallback": False}})

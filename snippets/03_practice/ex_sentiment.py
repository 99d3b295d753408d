POSITIVE = ["good", "great", "excellent", "wonderful", "enjoyable", "brilliant"]
NEGATIVE = ["bad", "boring", "awful", "terrible", "dull", "weak"]
FILLER = ["the", "movie", "film", "plot", "acting", "was", "is", "really", "quite", "a", "story", "ending", "and"]
vocab = {word: index for index, word in enumerate(["<pad>", "not"] + POSITIVE + NEGATIVE + FILLER)}


def make_review(generator):
    """A few filler words with one or two opinion words; 'not' before an opinion flips it."""
    words, score = [], 0
    for _ in range(int(torch.randint(1, 3, (1,), generator=generator))):
        words += [FILLER[int(i)] for i in torch.randint(len(FILLER), (int(torch.randint(2, 6, (1,), generator=generator)),), generator=generator)]
        positive = bool(torch.rand(1, generator=generator) < 0.5)
        negated = bool(torch.rand(1, generator=generator) < 0.3)
        opinions = POSITIVE if positive else NEGATIVE
        words += (["not"] if negated else []) + [opinions[int(torch.randint(len(opinions), (1,), generator=generator))]]
        score += (1 if positive else -1) * (-1 if negated else 1)
    return words, score


def make_dataset(n, seed):
    generator = torch.Generator().manual_seed(seed)
    reviews = []
    while len(reviews) < n:
        words, score = make_review(generator)
        if score != 0:  # one positive and one negative opinion: no clear label
            reviews.append((words, int(score > 0)))
    return reviews


def encode(reviews):
    tokens = [torch.tensor([vocab[w] for w in words]) for words, _ in reviews]
    x = nn.utils.rnn.pad_sequence(tokens, batch_first=True)
    return x.to(device), torch.tensor([label for _, label in reviews]).to(device)


class SentimentLSTM(nn.Module):
    def __init__(self, vocab_size, embed_dim=32, hidden_dim=32):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden_dim, 2)

    def forward(self, x):
        _, (h_n, _) = self.lstm(self.embedding(x))
        return self.fc(torch.cat([h_n[-2], h_n[-1]], dim=1))


train_x, train_y = encode(make_dataset(2000, seed=1))
test_x, test_y = encode(make_dataset(500, seed=2))
print(f"vocabulary {len(vocab)} words; train {tuple(train_x.shape)}, test {tuple(test_x.shape)}")
print("example:", " ".join(make_dataset(1, seed=3)[0][0]), "->", ["negative", "positive"][make_dataset(1, seed=3)[0][1]])

sentiment_model = SentimentLSTM(len(vocab)).to(device)
optimizer = torch.optim.Adam(sentiment_model.parameters(), lr=5e-3)
for epoch in range(4):
    sentiment_model.train()
    for start in range(0, len(train_x), 64):
        loss = F.cross_entropy(sentiment_model(train_x[start:start + 64]), train_y[start:start + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    sentiment_model.eval()
    with torch.no_grad():
        test_acc = (sentiment_model(test_x).argmax(dim=1) == test_y).float().mean().item()
    print(f"epoch {epoch}: last batch loss {loss.item():.3f}, test accuracy {test_acc:.3f}")

probes = ["the movie was good", "the movie was not good", "the plot was not bad", "a dull and boring story"]
with torch.no_grad():
    probe_x, _ = encode([(sentence.split(), 0) for sentence in probes])
    positive_probability = F.softmax(sentiment_model(probe_x), dim=1)[:, 1].tolist()
for sentence, p in zip(probes, positive_probability):
    print(f"P(positive) = {p:.2f}  {sentence}")

class SequenceClassifier(nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_dim, output_dim, n_layers=1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, n_layers, batch_first=True)
        self.fc = nn.Linear(hidden_dim, output_dim)
        self.dropout = nn.Dropout(0.3)

    def forward(self, x):
        embedded = self.embedding(x)  # (batch, seq_len, embed_dim)
        _, (hidden, _) = self.lstm(embedded)  # hidden: (n_layers, batch, hidden_dim)
        return self.fc(self.dropout(hidden[-1]))  # the last layer's final state


def create_synthetic_sequences(vocab_size, n_samples, min_len=5, max_len=20):
    """Random token sequences labelled 1 when the sum of their tokens is odd, else 0."""
    generator = torch.Generator().manual_seed(42)  # data is made on the CPU, then moved
    sequences, labels = [], []
    for _ in range(n_samples):
        length = int(torch.randint(min_len, max_len + 1, (1,), generator=generator))
        seq = torch.randint(1, vocab_size, (length,), generator=generator)  # 0 is kept for padding
        sequences.append(seq)
        labels.append(int(seq.sum().item() % 2))
    return sequences, torch.tensor(labels)


vocab_size = 50
sequences, labels = create_synthetic_sequences(vocab_size, n_samples=1000)
print(f"Generated {len(sequences)} sequences, lengths 5 to 20")
print(f"Example: {sequences[0].tolist()} -> label {labels[0].item()}")
label_counts = torch.bincount(labels).tolist()
print(f"Label counts: {label_counts}")

train_size = int(0.8 * len(sequences))
train_X = pad_sequence(sequences[:train_size], batch_first=True, padding_value=0).to(device)
val_X = pad_sequence(sequences[train_size:], batch_first=True, padding_value=0).to(device)
train_y, val_y = labels[:train_size].to(device), labels[train_size:].to(device)
print(f"Train: {tuple(train_X.shape)} tokens, {tuple(train_y.shape)} labels")
print(f"Val:   {tuple(val_X.shape)} tokens, {tuple(val_y.shape)} labels")

model = SequenceClassifier(vocab_size=vocab_size, embed_dim=32, hidden_dim=64, output_dim=2, n_layers=2).to(device)
criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=0.001)
params = sum(p.numel() for p in model.parameters())
print(f"Model parameters: {params:,}")

class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_dim, num_classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(hidden_dim * 2, num_classes)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        embedded = self.dropout(self.embedding(x))  # (batch, seq_len, embed_dim)
        _, (h_n, _) = self.lstm(embedded)  # h_n: (2, batch, hidden_dim), one row per direction
        hidden = torch.cat([h_n[-2], h_n[-1]], dim=1)  # final forward and backward states
        return self.fc(self.dropout(hidden))


model = LSTMClassifier(vocab_size=10000, embed_dim=128, hidden_dim=256, num_classes=2).to(device)
x = torch.randint(0, 10000, (32, 100)).to(device)
out = model(x)
print(f"Input:  {x.shape}")
print(f"Output: {out.shape}")

counts = {name: sum(p.numel() for p in part.parameters()) for name, part in model.named_children()}
params = sum(p.numel() for p in model.parameters())
for name, count in counts.items():
    print(f"  {name:<10} {count:>10,}")
print(f"Parameters: {params:,}")

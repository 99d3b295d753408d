class MemoryModel(nn.Module):
    def __init__(self, kind, hidden=32):
        super().__init__()
        self.rnn = {"RNN": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM}[kind](1, hidden, batch_first=True)
        if kind == "LSTM":
            with torch.no_grad():  # forget gates start near 1, the usual LSTM initialisation
                self.rnn.bias_ih_l0[hidden:2 * hidden].fill_(3.0)
        self.fc = nn.Linear(hidden, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def memory_batch(batch_size, seq_len):
    """The label is the sign of the first input; the other inputs are noise."""
    x = torch.randn(batch_size, seq_len, 1).to(device)  # drawn on the CPU: the same data on every device
    return x, (x[:, 0, 0] > 0).long()


def train_and_test(kind, seq_len, steps=250):
    torch.manual_seed(0)
    model = MemoryModel(kind).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        x, y = memory_batch(64, seq_len)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    x, y = memory_batch(1000, seq_len)
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


lengths = [10, 20, 40, 80]
kinds = ["RNN", "GRU", "LSTM"]
accuracy = {kind: [train_and_test(kind, n) for n in lengths] for kind in kinds}
print("test accuracy after 250 training steps")
print("length " + "".join(f"{kind:>7}" for kind in kinds))
for i, n in enumerate(lengths):
    print(f"{n:6d} " + "".join(f"{accuracy[kind][i]:7.3f}" for kind in kinds))

fig, ax = plt.subplots(figsize=(6, 3.8))
for kind in kinds:
    ax.plot(lengths, accuracy[kind], marker="o", label=kind)
ax.axhline(0.5, color="grey", linestyle=":", label="chance")
ax.set(title="Remembering the first input as sequences grow", xlabel="sequence length",
       ylabel="test accuracy", xscale="log", xticks=lengths, xticklabels=[str(n) for n in lengths], ylim=(0.4, 1.02))
ax.legend()
fig.tight_layout()

sequences = [
    torch.tensor([1, 2, 3, 4, 5, 6, 7, 8]),
    torch.tensor([10, 11, 12, 13]),
    torch.tensor([20, 21, 22, 23, 24, 25]),
    torch.tensor([30, 31]),
    torch.tensor([40, 41, 42, 43, 44]),
]
lengths = [len(seq) for seq in sequences]
for i, seq in enumerate(sequences):
    print(f"Seq {i}: {seq.tolist()} (length {len(seq)})")

padded = pad_sequence(sequences, batch_first=True, padding_value=0).to(device)
print(f"\nPadded: {tuple(padded.shape)}")
print(padded.cpu().numpy())


class EfficientLSTM(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, padded, lengths):
        # Lengths must live on the CPU, whatever the device of the data.
        packed = pack_padded_sequence(padded, torch.tensor(lengths, device="cpu"), batch_first=True,
                                      enforce_sorted=False)
        packed_output, (hidden, _) = self.lstm(packed)
        output, output_lengths = pad_packed_sequence(packed_output, batch_first=True)
        last = output[torch.arange(output.size(0)), output_lengths.to(output.device) - 1]  # last real step
        return self.fc(last), packed, hidden


embedding = nn.Embedding(50, 16).to(device)
embedded = embedding(padded)  # (batch, max_len, 16)
lstm_model = EfficientLSTM(16, 32, 2).to(device)
logits, packed, hidden = lstm_model(embedded, lengths)
print(f"\nEmbedded, padded:  {tuple(embedded.shape)}")
print(f"Packed data:       {tuple(packed.data.shape)} (one row per real token)")
print(f"Packed batch_sizes: {packed.batch_sizes.tolist()} (sequences still running at each step)")
print(f"Output:            {tuple(logits.shape)}")

# With packing, the final hidden state is each sequence's last real step, not a padding step.
last_steps = pad_packed_sequence(lstm_model.lstm(packed)[0], batch_first=True)[0]
same = torch.allclose(hidden[-1], last_steps[torch.arange(5), torch.tensor(lengths, device=device) - 1], atol=1e-6)
print(f"h_n equals the output at each sequence's last real step: {same}")

padded_cells = padded.numel()
real_tokens = sum(lengths)
saved = 1 - real_tokens / padded_cells
print(f"\nPadded positions: {padded_cells}, real tokens: {real_tokens}: packing skips {saved:.1%} of the steps")

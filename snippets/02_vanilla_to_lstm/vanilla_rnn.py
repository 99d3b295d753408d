class VanillaRNN(nn.Module):
    """An RNN with separate input-to-hidden, hidden-to-hidden and hidden-to-output weights."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.W_ih = nn.Linear(input_size, hidden_size, bias=False)  # input -> hidden
        self.W_hh = nn.Linear(hidden_size, hidden_size, bias=False)  # hidden -> hidden: the recurrence
        self.W_ho = nn.Linear(hidden_size, output_size)  # hidden -> output

    def forward(self, inputs, h_0=None):
        batch_size, seq_len, _ = inputs.shape
        h_t = torch.zeros(batch_size, self.hidden_size, device=inputs.device) if h_0 is None else h_0
        outputs, hidden_states = [], [h_t]
        for t in range(seq_len):  # strictly sequential: step t needs step t-1
            x_t = inputs[:, t, :]
            h_t = torch.tanh(self.W_ih(x_t) + self.W_hh(h_t))
            y_t = self.W_ho(h_t)
            outputs.append(y_t)
            hidden_states.append(h_t)
            if t < 3:
                print(f"  step {t}: input {tuple(x_t.shape)} + hidden {tuple(h_t.shape)} -> output {tuple(y_t.shape)}")
        return torch.stack(outputs, dim=1), h_t, hidden_states


batch_size, seq_len, input_size = 2, 5, 3
hidden_size, output_size = 4, 2
rnn = VanillaRNN(input_size, hidden_size, output_size).to(device)
input_seq = torch.randn(batch_size, seq_len, input_size).to(device)
print(f"Input sequence: {tuple(input_seq.shape)}, network {input_size} -> {hidden_size} -> {output_size}")
outputs, final_hidden, hidden_states = rnn(input_seq)
print(f"Outputs: {tuple(outputs.shape)}, final hidden state: {tuple(final_hidden.shape)}")

print("\nHidden state evolution")
print("time | mean    | std")
for t, h in enumerate(hidden_states):
    print(f"{t:4d} | {h.mean().item():7.4f} | {h.std().item():.4f}")

print("\nParameter breakdown")
breakdown = {
    "W_ih (input -> hidden)": rnn.W_ih.weight,
    "W_hh (hidden -> hidden)": rnn.W_hh.weight,
    "W_ho (hidden -> output)": rnn.W_ho.weight,
    "b_o (output bias)": rnn.W_ho.bias,
}
for name, weight in breakdown.items():
    print(f"  {name:<24} {str(tuple(weight.shape)):>7} = {weight.numel():2d}")
total_params = sum(p.numel() for p in rnn.parameters())
print(f"  total: {total_params}, the same for a sequence of any length")

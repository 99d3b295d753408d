bilstm = nn.LSTM(input_size=32, hidden_size=64, batch_first=True, bidirectional=True).to(device)
x = torch.randn(4, 10, 32).to(device)
out, (h_n, c_n) = bilstm(x)
print(f"Input:  {tuple(x.shape)}")
print(f"Output: {tuple(out.shape)}  (forward and backward states concatenated: 2 x 64)")
print(f"h_n:    {tuple(h_n.shape)}  (num_layers * 2 directions, batch, hidden)")

forward_out, backward_out = out[..., :64], out[..., 64:]
# The forward direction ends at the last step; the backward direction ends at the first.
forward_final_is_last_step = torch.allclose(h_n[0], forward_out[:, -1])
backward_final_is_first_step = torch.allclose(h_n[1], backward_out[:, 0])
print(f"h_n[0] == forward output at the last step:   {forward_final_is_last_step}")
print(f"h_n[1] == backward output at the first step: {backward_final_is_first_step}")

# What each direction has seen: change only the last input and watch which outputs move.
x_changed = x.clone()
x_changed[:, -1] += 1.0
out_changed, _ = bilstm(x_changed)
moved = (out_changed - out).abs().amax(dim=(0, 2)) > 1e-6
forward_moved = (out_changed[..., :64] - forward_out).abs().amax(dim=(0, 2)) > 1e-6
backward_moved = (out_changed[..., 64:] - backward_out).abs().amax(dim=(0, 2)) > 1e-6
print(f"\nChanging the last input moves forward outputs at steps {forward_moved.nonzero().flatten().tolist()}")
print(f"and backward outputs at steps {backward_moved.nonzero().flatten().tolist()}")

final = torch.cat([h_n[-2], h_n[-1]], dim=1)  # as the text classifier does
print(f"\nFinal states of both directions, concatenated: {tuple(final.shape)}")

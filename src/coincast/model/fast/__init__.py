"""The fast training path: the compiled LSTM time loop and many models trained as one."""

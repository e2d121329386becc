"""Linux's user-visible numbers and layouts: constants, errno values and structs, per ABI."""

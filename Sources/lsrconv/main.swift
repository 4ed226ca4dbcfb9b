import LSRCommands

// All behaviour lives in LSRCommands; this executable only hands over the arguments.
LSRConv.main()

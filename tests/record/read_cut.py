"""Reads an MCAP recording front to back with the official `mcap` reader's
streaming reader (what reads a file whose end was cut: SIGKILL, power loss),
stopping at the first record that is cut short (in file order: sorting by
log time would read the whole file before yielding anything). Prints one JSON object: the
message count per topic, the first and last log time per topic, the action numbers on /code and /observation (the
Log's line), and whether the file's end was whole. With --seeking it uses
the reader that seeks to the file's index instead (for a whole file: what
`codeact recover` writes), and says whether the index was there."""

import json
import sys

from mcap.reader import NonSeekingReader, make_reader
from mcap_protobuf.decoder import DecoderFactory


def seeking(path):
    counts, actions = {}, {"/code": [], "/observation": []}
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        indexed = reader.get_summary() is not None
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
        for schema, channel, message, decoded in reader.iter_decoded_messages(
                topics=list(actions), log_time_order=False):
            actions[channel.topic].append(decoded.line)
    print(json.dumps({"counts": counts, "actions": actions, "indexed": indexed}))


def main(path):
    counts, times, actions = {}, {}, {"/code": [], "/observation": []}
    whole, cut = True, None
    with open(path, "rb") as f:
        try:
            for schema, channel, message in NonSeekingReader(f).iter_messages(log_time_order=False):
                counts[channel.topic] = counts.get(channel.topic, 0) + 1
                first = times.get(channel.topic, [message.log_time])[0]
                times[channel.topic] = [first, message.log_time]
        except Exception as e:  # the cut: a record or chunk that ends early
            whole, cut = False, type(e).__name__
    with open(path, "rb") as f:
        reader = NonSeekingReader(f, decoder_factories=[DecoderFactory()])
        try:
            for schema, channel, message, decoded in reader.iter_decoded_messages(
                    topics=list(actions), log_time_order=False):
                actions[channel.topic].append(decoded.line)
        except Exception:
            pass
    out = {"counts": counts, "times": times, "actions": actions, "whole": whole}
    if cut:
        out["cut"] = cut
    print(json.dumps(out))


if sys.argv[1] == "--seeking":
    seeking(sys.argv[2])
else:
    main(sys.argv[1])

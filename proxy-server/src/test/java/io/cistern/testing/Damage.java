package io.cistern.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** What a failing disk or a stray process does to a stored file, done in place (the same inode). */
public final class Damage {

  private Damage() {}

  /** Inverts the byte at {@code position}: the size stays, the digest does not. */
  public static void flipByte(Path file, long position) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      channel.read(one, position);
      one.put(0, (byte) ~one.get(0));
      one.rewind();
      channel.write(one, position);
    }
  }

  /** Cuts the file to {@code size} bytes. */
  public static void truncate(Path file, long size) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.truncate(size);
    }
  }

  /** Where {@code part} first starts in {@code whole} (a blob inside a bundle: where to aim), or -1. */
  public static int positionOf(byte[] whole, byte[] part) {
    outer:
    for (int i = 0; i + part.length <= whole.length; i++) {
      for (int j = 0; j < part.length; j++) {
        if (whole[i + j] != part[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}

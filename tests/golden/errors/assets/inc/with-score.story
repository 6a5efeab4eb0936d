score: ../song.mp3

"""What a person looks at: the storyboard page, contact sheet, subtitles, timeline exports."""

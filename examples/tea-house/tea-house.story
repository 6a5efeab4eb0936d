# 月下茶馆：雨夜，一位旅人在山间茶馆歇脚。
# The Tea House: on a rainy night a traveller shelters in a mountain tea house.
title: 月下茶馆
resolution: 480p
ratio: 16:9
audio: on
seed: 88
style: 水墨动画风格，柔和的灯笼光，细腻的笔触。
negative: 文字，水印，现代建筑

character Traveller:
  image: cast/traveller.png
  voice: cast/traveller-voice.mp3
  description: 披着蓑衣、戴着斗笠的年轻旅人

character Owner:
  image: cast/owner.png
  image: cast/owner-side.png
  description: 满头白发、面容慈祥的茶馆老板娘

prop Teapot:
  image: props/teapot.png
  video: props/teapot-pour.mp4
  description: 一把冒着热气的紫砂壶

place TeaHouse:
  image: places/teahouse.png
  description: 山路旁挂着红灯笼的木结构小茶馆

shot rain 5s:
  夜雨中，@Traveller 沿着山路走向 @TeaHouse，门口的红灯笼在风中摇晃。
  camera: 低机位跟拍，缓缓推近
  sound: 雨声，远处的雷声

dissolve 1s

scene welcome 6s:
  shot 2s: @Traveller 推开木门，抖落蓑衣上的雨水。
  shot 2s: @Owner 从柜台后抬起头，露出微笑。
  shot: 两人隔着炉火相视点头。
  @Owner (微笑): "外面雨大，快进来喝杯热茶。"
  @Traveller: "多谢老人家。"

fade 0.5s

shot pour 5s:
  @Teapot 里的热水注入青瓷茶杯，茶叶在杯中慢慢舒展。
  camera: 微距特写
  motion: refs/slow-pour.mp4
  music: refs/guqin.mp3
  model: ByteDance/Seedance-2.0  # 单个镜头也可以指定模型
  size: 864x496  # 以及像素尺寸（与全片的 480p 16:9 相同）

continue  # 下一个镜头从上一个镜头的最后一帧开始

shot dawn 5s:
  雨停了，晨光照亮了湿漉漉的屋檐。
  last: frames/dawn-end.png
  sound: 鸟鸣，屋檐滴水声
  audio: off

wipe left 1s

shot farewell 5s:
  @Traveller 戴上斗笠，向 @Owner 挥手告别，走下山路。
  @Traveller (回头): "我还会再来的。"
  camera: 远景，固定机位
  seed: 7
  negative: 文字，水印，雨
